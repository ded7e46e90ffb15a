"""The ``$batch`` multipart reader and writer, against the client's own writer and reader.

The server's :mod:`appjobs.odata.multipart` and the client's
:mod:`appjobs.client._batch` are two implementations of one format (the
client may not import the server's); each reads what the other writes.
Any bytes at all either parse or raise :class:`MalformedBatch`, nothing else.
"""

from __future__ import annotations

import re

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


def _one(request: bytes, *headers: bytes, boundary: bytes = b"b") -> bytes:
    """A batch of one part: *headers* (default: application/http) and *request*."""
    head = b"\r\n".join(headers or (b"Content-Type: application/http",))
    return b"--" + boundary + b"\r\n" + head + b"\r\n\r\n" + request + b"\r\n--" + boundary + b"--"


GOOD = _one(b"GET $metadata HTTP/1.1\r\n")


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (GOOD + b"\r\n" + GOOD.replace(b"$metadata", b"x"), "parsed"),  # the epilogue is ignored
        (GOOD[:-2], "The $batch request does not end with its close delimiter '--b--'."),
        (b"--b\r\nx", "does not end with its close delimiter '--b--'"),
        (GOOD.replace(b"--b--", b"--b\r\n" + GOOD[5:]), "parsed"),
        (
            GOOD.replace(b"HTTP/1.1", b"HTTP/2"),
            "part 1 of the $batch request: 'GET $metadata HTTP/2' is not a request line",
        ),
        (GOOD.replace(b"HTTP/1.1", b"HTTP/1.0"), "parsed"),
        (GOOD.replace(b"$metadata", b""), "'GET  HTTP/1.1' is not a request line"),
        (GOOD.replace(b"$metadata", b"$meta\tdata"), "is not a request line"),
        (GOOD.replace(b"$metadata", b"$meta\x01data"), "is not a request line"),
        (GOOD.replace(b"GET $metadata HTTP/1.1", b"GET $metadata"), "'GET $metadata' is not a request line"),
        (GOOD.replace(b"GET", b"B" * 30), f"unknown method '{'B' * 20}';"),
        (GOOD.replace(b"$metadata", b"ftp://h/x"), "'ftp://h/x' is not an http(s) URL with a path."),
        (GOOD.replace(b"$metadata", b"http://h"), "'http://h' is not an http(s) URL with a path."),
        (GOOD.replace(b"$metadata", b"http://[::1/x"), "'http://[::1/x' is not a URL (Invalid IPv6 URL)."),
        (GOOD.replace(b"$metadata", b"/x?a://b"), "parsed"),
        (GOOD.replace(b"HTTP/1.1\r\n", b"HTTP/1.1\r\nBad Name: x"), "'Bad Name: x' is not a header line"),
        (GOOD.replace(b"HTTP/1.1\r\n", b"HTTP/1.1\r\nName: a\x01b"), "'Name: a\\x01b' is not a header line"),
        (GOOD.replace(b"HTTP/1.1\r\n", b"HTTP/1.1\r\nName: a\tb"), "parsed"),
        (GOOD.replace(b"HTTP/1.1\r\n", b"HTTP/1.1\r\n:x"), "':x' is not a header line"),
        (
            _one(b"GET x HTTP/1.1", b"Content-Type: text/plain"),
            "must be application/http or multipart/mixed, not 'text/plain'.",
        ),
        (_one(b"GET x HTTP/1.1", b"X-A: 1"), "must be application/http or multipart/mixed, and it has none."),
        (_one(b"GET x HTTP/1.1", b'Content-Type: multipart/mixed; boundary="'), "the changeset has no valid boundary"),
        (_one(b"", b"Content-Type: application/http"), "part 1 of the $batch request: the part holds no HTTP request."),
        (GOOD + b"\r\n" + GOOD, "parsed"),
    ],
)
def test_what_is_refused_and_what_a_refusal_says(body: bytes, says: str) -> None:
    try:
        multipart.parse_batch(body, "b")
    except MalformedBatch as exc:
        message = str(exc)
    else:
        message = "parsed"
    assert says in message


def test_part_numbers_in_messages() -> None:
    bad = _one(b"BREW x HTTP/1.1")
    changeset = b"Content-Type: multipart/mixed; boundary=c\r\n\r\n"
    changeset += b"--c\r\nContent-Type: application/http\r\n\r\nPOST x HTTP/1.1\r\n"
    changeset += b"--c\r\nContent-Type: application/http\r\n\r\nBREW x HTTP/1.1\r\n--c--"
    body = GOOD[:-5] + b"\r\n--b\r\n" + changeset + b"\r\n" + bad[:]
    with pytest.raises(
        MalformedBatch, match=r"^part 2 of the \$batch request, request 2 of its changeset: unknown method"
    ):
        multipart.parse_batch(body, "b")
    with pytest.raises(MalformedBatch, match=r"^part 2 of the \$batch request: unknown method"):
        multipart.parse_batch(GOOD[:-5] + b"\r\n" + bad, "b")


def test_line_ends_are_taken_off_exactly() -> None:
    lf = b"--b\n\nGET x HTTP/1.1\nA: 1\n\nbody\n--b--"  # a part without headers: its content after the empty line
    with pytest.raises(MalformedBatch, match="has none"):
        multipart.parse_batch(lf, "b")
    (operation,) = multipart.parse_batch(
        b"--b\nContent-Type: application/http\n\nGET x HTTP/1.1\nA: 1\n\nbody\n--b--", "b"
    )
    assert (operation.headers, operation.body) == ({"a": "1"}, b"body")
    (operation,) = multipart.parse_batch(b"--b\nContent-Type: application/http\n\nGET x HTTP/1.1\nA: 1\n--b--", "b")
    assert operation.headers == {"a": "1"}
    assert multipart._head(b"\nrest") == ([], b"rest")
    assert multipart._head(b"\r\nrest") == ([], b"rest")
    assert multipart._head(b"A: 1\n") == ([b"A: 1"], b"")
    assert multipart._head(b"A: 1\r\n") == ([b"A: 1"], b"")


@pytest.mark.parametrize(
    ("value", "boundary"), [('multipart/mixed; boundary="b"', "b"), ('multipart/mixed; boundary="', "")]
)
def test_quoted_parameters(value: str, boundary: str) -> None:
    assert multipart._content_type(value) == ("multipart/mixed", {"boundary": boundary or '"'})


def test_unknown_status_codes_get_a_reason_phrase_still() -> None:
    body = multipart.write_batch([Answer(599, [], b"")], "x")
    assert b"HTTP/1.1 599 Unknown\r\n" in body
    assert b"HTTP/1.1 507 Insufficient Storage" in multipart.write_batch([Answer(507, [], b"")], "x")


@pytest.mark.parametrize(("value", "expected"), [('""', ""), ('x"', 'x"'), ('"x', '"x'), ('"x"', "x")])
def test_only_a_value_quoted_at_both_ends_is_unquoted(value: str, expected: str) -> None:
    assert multipart._content_type(f"multipart/mixed; boundary={value}")[1]["boundary"] == expected


def test_refusals_show_at_most_100_characters_of_what_they_quote() -> None:
    long = b"x" * 150
    cases = [
        (GOOD.replace(b"GET $metadata HTTP/1.1", b"GET " + long + b" HTTP/2\r\nA: 1"), "GET " + "x" * 96 + "'"),
        (GOOD.replace(b"$metadata", b"ftp://" + long), "ftp://" + "x" * 94 + "'"),
        (GOOD.replace(b"$metadata", b"http://[" + long), "http://[" + "x" * 92 + "'"),
        (GOOD.replace(b"HTTP/1.1\r\n", b"HTTP/1.1\r\n" + long), "x" * 100 + "'"),
    ]
    for body, shown in cases:
        with pytest.raises(MalformedBatch, match=re.escape(f"'{shown} ")):
            multipart.parse_batch(body, "b")
    with pytest.raises(MalformedBatch, match="not ''"):
        multipart.boundary_of(None)
