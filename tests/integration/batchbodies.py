"""Writing ``$batch`` request bodies by hand, and reading the answers, for the ``$batch`` tests.

The bodies are written here, not by the client, so that the server's tests
can send what no client would (malformed parts); the answers are read with
the client's reader (:func:`appjobs.client._batch.read_response`), a second
implementation of the format, so a test also checks that the two agree.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from urllib.parse import quote

import requests

from appjobs.client._batch import Part, read_response
from appjobs.client._transport import Answer

BOUNDARY = "batch_test"


def op(method: str, url: str, *headers: str, content_id: str | None = None) -> str:
    """One ``application/http`` part (without its delimiter)."""
    head = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    head += [f"Content-ID: {content_id}"] if content_id else []
    return "\r\n".join([*head, "", f"{method} {url} HTTP/1.1", *headers, "", ""])


def changeset(*parts: str, boundary: str = "changeset_test") -> str:
    """A changeset part holding *parts*."""
    body = "".join(f"--{boundary}\r\n{part}\r\n" for part in parts) + f"--{boundary}--"
    return f"Content-Type: multipart/mixed; boundary={boundary}\r\n\r\n{body}"


def body(*parts: str, boundary: str = BOUNDARY) -> bytes:
    """A batch body of *parts*."""
    return ("".join(f"--{boundary}\r\n{part}\r\n" for part in parts) + f"--{boundary}--\r\n").encode()


def schedule_url(template: str, text: str, **extra: str) -> str:
    query = {"JobTemplateName": f"'{template}'", "JobText": f"'{text}'", "$format": "json", **extra}
    return "JobSchedule?" + "&".join(f"{k}={quote(v, safe='')}" for k, v in query.items())


def key_url(function: str, name: str, run_count: str, fmt: str = "json") -> str:
    url = f"{function}?JobName='{name}'&JobRunCount='{run_count}'"
    return url + (f"&$format={fmt}" if fmt else "")


def post(http: requests.Session, root: str, data: bytes, boundary: str = BOUNDARY) -> requests.Response:
    headers = {"Content-Type": f"multipart/mixed; boundary={boundary}"}
    return http.post(root + "/$batch", data=data, headers=headers, timeout=60)


def answers(response: requests.Response) -> list[Part | list[Part]]:
    """The parts of a 202 batch response."""
    assert response.status_code == 202, response.text
    return read_response(Answer(response.status_code, response.content, response.headers["content-type"]))


def d(part: Part) -> dict:
    """The ``d`` of a JSON part."""
    assert part.status == 200, part.body
    return json.loads(part.body)["d"]


def error_code(part: Part | requests.Response) -> str:
    content = part.body if isinstance(part, Part) else part.content
    text = content.decode()
    if text.startswith("{"):
        return json.loads(text)["error"]["code"]
    return text.split("<code>", 1)[1].split("</code>", 1)[0]


def flat(items: Sequence[Part | list[Part]]) -> list[Part]:
    return [p for item in items for p in (item if isinstance(item, list) else [item])]
