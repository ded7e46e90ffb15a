"""The ``$batch`` multipart reader and writer, against the client's own writer and reader.

The server's :mod:`appjobs.odata.multipart` and the client's
:mod:`appjobs.client._batch` are two implementations of one format (the
client may not import the server's); each reads what the other writes.
Any bytes at all either parse or raise :class:`MalformedBatch`, nothing else.
"""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from appjobs.client._batch import Part, read_response, write_request
from appjobs.client._transport import Answer as ClientAnswer
from appjobs.odata import multipart
from appjobs.odata.multipart import Answer, Changeset, MalformedBatch, Operation


@settings(max_examples=2000)
@given(
    body=st.binary(max_size=300) | st.text(st.sampled_from("-b\r\n :GETPOST/HTP1.c=;"), max_size=200).map(str.encode)
)
@example(body=b"--b\r\n--b--")
@example(body=b"--b\n\n--b--")
@example(body=b"--b\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b--")
def test_any_bytes_parse_or_are_malformed(body: bytes) -> None:
    try:
        items: list = multipart.parse_batch(body, "b")
    except MalformedBatch as exc:
        items, message = [], str(exc)
    else:
        message = "parsed"
    assert message  # a refusal names what is wrong
    assert all(isinstance(item, Operation | Changeset) for item in items)


urls = st.sampled_from(["JobStatusInfoSet", "$metadata", "JobStatusGet?JobName='A'&JobRunCount='B'", "/sap/x?a=b"])
posts = st.builds(lambda url: ("POST", url), urls)
items = st.lists(st.builds(lambda url: ("GET", url), urls) | st.lists(posts, max_size=3), max_size=6)


@given(items=items)
def test_the_server_reads_what_the_client_writes(items: list) -> None:
    parsed = multipart.parse_batch(write_request(items, "batch_x"), "batch_x")
    assert len(parsed) == len(items)
    for item, read in zip(items, parsed, strict=True):
        if isinstance(item, tuple):
            assert isinstance(read, Operation)
            assert (read.method, read.path + ("?" + read.query if read.query else "")) == item
            assert read.headers == {"accept": "application/json"}
        else:
            assert isinstance(read, Changeset)
            assert [(o.method, o.path + ("?" + o.query if o.query else "")) for o in read.operations] == item
            assert [o.content_id for o in read.operations] == [str(n) for n in range(1, len(item) + 1)]


answers = st.builds(
    Answer,
    status=st.sampled_from([200, 400, 404, 414, 507]),
    headers=st.lists(st.tuples(st.sampled_from(["content-type", "allow", "x-y"]), st.text("abc/;= ", max_size=10))),
    body=st.binary(max_size=50),
    content_id=st.none() | st.text("0123456789abc", min_size=1, max_size=5),
)


@given(written=st.lists(answers | st.lists(answers, max_size=3), max_size=5))
def test_the_client_reads_what_the_server_writes(written: list) -> None:
    boundary = multipart.new_boundary("batchresponse")
    body = multipart.write_batch(written, boundary)
    read = read_response(ClientAnswer(202, body, f"multipart/mixed; boundary={boundary}"))
    assert len(read) == len(written)
    for answer, part in zip(written, read, strict=True):
        pairs = zip(answer, part, strict=True) if isinstance(answer, list) else [(answer, part)]
        for one, got in pairs:
            assert isinstance(got, Part)
            assert (got.status, got.body, got.content_id) == (one.status, one.body, one.content_id)
            assert got.headers == {name: value.strip() for name, value in one.headers}


def test_line_ends_preamble_epilogue_padding_and_quoted_boundary() -> None:
    body = (
        b"a preamble\n--b \nContent-Type: application/http\n\nGET JobStatusInfoSet?$top=1 HTTP/1.1\nAccept: x\n\n"
        b"\n--b--\nan epilogue"
    )
    (operation,) = multipart.parse_batch(body, multipart.boundary_of('multipart/mixed; boundary="b"'))
    assert operation == Operation("GET", "JobStatusInfoSet", "$top=1", {"accept": "x"}, b"", None)


def test_absolute_urls_and_content_ids() -> None:
    part = (
        b"--b\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n--c\r\nContent-Type: application/http\r\n"
        b"Content-ID: 7\r\n\r\nPOST https://h:1/sap/x/JobCancel?a=1 HTTP/1.1\r\n\r\nbody\r\n--c--\r\n--b--"
    )
    (changeset,) = multipart.parse_batch(part, "b")
    assert changeset == Changeset((Operation("POST", "/sap/x/JobCancel", "a=1", {}, b"body", "7"),))


@pytest.mark.parametrize(
    ("content_type", "says"),
    [
        (None, "must be multipart/mixed"),
        ("multipart/mixed", "no boundary"),
        ("multipart/mixed; boundary=" + "x" * 71, "is not one by RFC 2046"),
        ('multipart/mixed; boundary="a b "', "is not one"),
    ],
)
def test_boundaries(content_type: str | None, says: str) -> None:
    with pytest.raises(MalformedBatch, match=says):
        multipart.boundary_of(content_type)


def test_the_number_of_requests_is_capped() -> None:
    one = "--b\r\nContent-Type: application/http\r\n\r\nGET $metadata HTTP/1.1\r\n\r\n"
    assert len(multipart.parse_batch((one * 1000 + "--b--").encode(), "b")) == 1000
    with pytest.raises(MalformedBatch, match="more than 1000"):
        multipart.parse_batch((one * 1001 + "--b--").encode(), "b")
