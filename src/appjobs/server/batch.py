"""``POST <service root>/$batch``: several requests in one, each answered as if it had come alone.

The ``$batch`` POST itself is logged on and CSRF-checked like any modifying
request (:meth:`~appjobs.server.odata.ODataEndpoint.handle`); its requests
are then answered one after the other, in order, by the very function that
answers a request sent alone (:meth:`~appjobs.server.odata.ODataEndpoint.answer`),
with the batch's caller: the same resources, parameters, scope, audit log,
limits (a request's URL over 64 KiB is its own 414) and SAP error documents.
Only the logon, the session and the CSRF check are done once, for the batch.

- A retrieve request (a GET outside a changeset) gets its own response.
- A changeset runs in one :meth:`~appjobs.engine.JobService.unit`: when any
  of its requests fails (a status of 400 or more), nothing of it is stored,
  no worker ever sees one of its jobs, and the changeset is answered by the
  failing request's error alone, in place of the changeset's answers
  (OData v2, as SAP Gateway does). The audit log still records every attempt.
- ``$metadata`` and the service document may be read in a batch, as any GET.
- A malformed batch (see :mod:`appjobs.odata.multipart`) is one 400 error
  document naming the part and what is wrong, before any request runs.

The batch answers ``202 Accepted`` with a ``multipart/mixed`` body whose
parts carry each request's status line, headers and body, and the
``Content-ID`` of the request they answer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from starlette.responses import Response

from appjobs.engine import JobService
from appjobs.odata import multipart
from appjobs.odata.multipart import Answer, Changeset, MalformedBatch, Operation
from appjobs.server.errors import BASE_HEADERS, MethodNotAllowed, ResourceNotFound, raw_error
from appjobs.server.security import Caller
from appjobs.server.targets import Target

BATCH = "$batch"  #: the resource name after the service root
_DROPPED = frozenset({"set-cookie"})  # a request of a batch opens no session: the batch did the logon


Answerer = Callable[..., Response]  #: ``answer(incoming, caller, in_batch=True)``


class _ChangesetFailed(Exception):
    """Leaves a changeset's unit, rolling it back, with the failing request's answer."""

    def __init__(self, answer: Answer) -> None:
        super().__init__(answer.status)
        self.answer = answer


def serve(answer: Answerer, service: JobService, incoming: Any, caller: Caller, target: Target, fmt: str) -> Response:
    """The response to a ``$batch`` request that has passed the logon and the CSRF check."""
    if target.key is not None:
        raise ResourceNotFound(BATCH)
    if incoming.method != "POST":
        raise MethodNotAllowed(incoming.method, BATCH, ("POST",))
    items = multipart.parse_batch(incoming.body, multipart.boundary_of(incoming.headers.get("content-type")))
    run = _Run(answer, service, incoming, caller, target.root, fmt)
    answers = [run.changeset(item) if isinstance(item, Changeset) else run.one(item) for item in items]
    boundary = multipart.new_boundary("batchresponse")
    body = multipart.write_batch(answers, boundary)
    headers = BASE_HEADERS | {
        "dataserviceversion": "2.0",
        "content-type": f"multipart/mixed; boundary={boundary}",
        "content-length": str(len(body)),
    }
    return Response(body, 202, headers)


def refuse_nested() -> None:
    """A ``$batch`` request inside a batch is refused as that request's answer."""
    raise MalformedBatch("A $batch request cannot contain another $batch request.")


@dataclasses.dataclass(frozen=True)
class _Run:
    answer: Answerer
    service: JobService
    incoming: Any
    caller: Caller
    root: str  #: the service root as the batch addressed it: relative URLs are resolved against it
    fmt: str  #: of the batch's own errors

    def one(self, operation: Operation) -> Answer:
        """One request, through the path of a request sent alone."""
        response = self.answer(self._request(operation), self.caller, in_batch=True)
        headers = [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in response.raw_headers
            if name.decode("latin-1") not in _DROPPED
        ]
        return Answer(response.status_code, headers, bytes(response.body), operation.content_id)

    def changeset(self, changeset: Changeset) -> Answer | list[Answer]:
        """Every request of *changeset* in one unit: their answers, or the first failure's alone."""
        answers: list[Answer] = []
        try:
            with self.service.unit():
                for operation in changeset.operations:
                    answer = self.one(operation)
                    if answer.status >= 400:
                        raise _ChangesetFailed(answer)
                    answers.append(answer)
        except _ChangesetFailed as failed:
            return failed.answer
        except Exception as exc:  # the commit itself failed (a full disk): the changeset is refused as a whole
            status, headers, body = raw_error(exc, self.fmt)
            return Answer(status, [*headers.items(), ("content-length", str(len(body)))], body)
        return answers

    def _request(self, operation: Operation) -> Any:
        """The batch's request object, with the method, target, headers and body of *operation*."""
        path = operation.path if operation.path.startswith("/") else self.root + operation.path
        incoming = self.incoming  # a new one of its class, sharing the batch's origin, source and certificate
        return type(incoming)(
            method=operation.method,
            raw_path=path,
            query=operation.query.encode("latin-1"),
            headers=operation.headers,
            origin=incoming.origin,
            source=incoming.source,
            certificate=incoming.certificate,
            body=operation.body,
        )
