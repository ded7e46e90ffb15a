"""From a logged-on request to a response body: the service document, ``$metadata``, entity sets, function imports.

Everything here is synchronous and runs in a worker thread, beside the
event loop: it reads and writes the database. :func:`dispatch` picks the
resource a :class:`~appjobs.server.targets.Target` names, checks the
method, parses the query options and the function-import parameters
(OData literals), calls the engine and serializes the answer as Atom XML
or verbose JSON.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from typing import Any

from appjobs import errors
from appjobs.engine import JobService
from appjobs.odata import entities, literals, metadata, model, payloads, query
from appjobs.server import entitysets, functions
from appjobs.server.errors import HttpError, MethodNotAllowed, ResourceNotFound
from appjobs.server.security import Caller
from appjobs.server.targets import METADATA, SERVICE_DOCUMENT, Target

ATOM_FEED = "application/atom+xml;type=feed; charset=utf-8"
ATOM_ENTRY = "application/atom+xml;type=entry; charset=utf-8"
JSON = "application/json; charset=utf-8"
XML = "application/xml; charset=utf-8"
READ_METHODS = ("GET", "HEAD")


class NotImplementedHere(HttpError):
    """Not implemented."""

    status = 501


@dataclasses.dataclass(frozen=True)
class Call:
    """One request, as the resources see it."""

    method: str
    target: Target
    params: Sequence[tuple[str, str]]  #: the decoded query string, in order
    base_url: str  #: absolute service root, ending in ``/``
    fmt: str  #: "json" or "xml"
    caller: Caller
    source: str | None = None  #: the client's address, for the audit log


@dataclasses.dataclass(frozen=True)
class Reply:
    body: bytes
    content_type: str
    status: int = 200


def dispatch(service: JobService, call: Call) -> Reply:
    """The reply to *call*; raises an :class:`~appjobs.errors.AppjobsError` for every failure."""
    name = call.target.resource
    if call.target.navigation and model.SERVICE.find_entity_set(name) is None:
        raise ResourceNotFound(call.target.navigation[0][0])  # nothing but an entity navigates
    if name == SERVICE_DOCUMENT:
        _allow(call, name or "the service document", READ_METHODS)
        return _service_document(call)
    if name == METADATA:
        _allow(call, name, READ_METHODS)
        return Reply(_metadata(), XML)
    function = model.SERVICE.find_function_import(name)
    if function is not None and call.target.key is None:
        return _function_import(service, call, function)
    entity_set = model.SERVICE.find_entity_set(name)
    if entity_set is None:
        raise ResourceNotFound(name)
    _allow(call, name, READ_METHODS)
    return _entity_set(service, call)


def _allow(call: Call, resource: str, methods: tuple[str, ...]) -> None:
    if call.method not in methods:
        raise MethodNotAllowed(call.method, resource, methods)


@functools.cache
def _metadata() -> bytes:
    return metadata.metadata_document()


def _service_document(call: Call) -> Reply:
    query.parse_query(call.params, {})  # only $format means anything here, but every option must be valid
    if call.fmt == "json":
        return Reply(metadata.service_document_json(), JSON)
    return Reply(metadata.service_document_xml(call.base_url), "application/atomsvc+xml; charset=utf-8")


def _properties(entity_type: model.EntityType) -> dict[str, str]:
    return {p.name: p.edm_type for p in entity_type.properties}


def _function_import(service: JobService, call: Call, function: model.FunctionImport) -> Reply:
    methods = ("GET", "HEAD") if function.http_method == "GET" else ("POST",)
    _allow(call, function.name, methods)
    declared = {p.name for p in function.parameters}
    options = query.parse_query(call.params, _properties(function.return_type))
    values = _parameters(function, [(k, v) for k, v in call.params if k in declared])
    if function.name not in functions.HANDLERS:
        raise NotImplementedHere(f"The function import {function.name} is not implemented yet.")
    result = functions.call(function.name, service, values, call.caller, call.source)
    if function.returns_collection:
        return _feed(call, function.entity_set, result, options, path=function.name)
    return _entry(call, function.entity_set, result, options)


#: Where a parameter's declared MaxLength is not enforced, and what is instead. The one case: SAP's model
#: declares JobParamValuesGet's JobName with MaxLength 14 (and JobCount with 32, swapped), which no real
#: JobName (32 characters) fits. ``$metadata`` keeps SAP's declaration; the function takes 32 for both.
MAX_LENGTH_EXCEPTIONS = {("JobParamValuesGet", "JobName"): 32}


def _parameters(function: model.FunctionImport, pairs: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """Function-import parameters as Python values; each one an OData literal of its declared type."""
    values: dict[str, Any] = {}
    for name, literal in pairs:
        parameter = function.get_parameter(name)
        assert parameter is not None  # the caller passes declared names only
        if name in values:
            raise errors.InvalidInput(f"parameter {name} is given more than once")
        limit = MAX_LENGTH_EXCEPTIONS.get((function.name, name), parameter.max_length)
        values[name] = literals.parse_literal(literal, parameter.edm_type, max_length=limit, name=name)
    return values


def _entity_set(service: JobService, call: Call) -> Reply:
    """A read of an entity set, an entity or a navigation (see :mod:`.entitysets`)."""
    result = entitysets.read(service, call.target, call.params, call.caller)
    if result.entity is not None:
        return _entry(call, result.entity_set, result.entity, result.options)
    return _page(call, result.entity_set, result.page, result.options, result.count, result.path)


def _feed(
    call: Call, entity_set: model.EntitySet, rows: list[entities.SapEntity], options: query.QueryOptions, path: str = ""
) -> Reply:
    page, count = query.apply(options, rows)
    return _page(call, entity_set, page, options, count if options.inlinecount else None, path)


def _page(
    call: Call,
    entity_set: model.EntitySet,
    page: Sequence[entities.SapEntity],
    options: query.QueryOptions,
    total: int | None,
    path: str = "",
) -> Reply:
    if call.fmt == "json":
        return Reply(payloads.feed_json(entity_set, page, call.base_url, select=options.select, count=total), JSON)
    body = payloads.feed_atom(entity_set, page, call.base_url, path=path or None, select=options.select, count=total)
    return Reply(body, ATOM_FEED)


def _entry(call: Call, entity_set: model.EntitySet, row: entities.SapEntity, options: query.QueryOptions) -> Reply:
    if call.fmt == "json":
        return Reply(payloads.entry_json(entity_set, row, call.base_url, select=options.select), JSON)
    return Reply(payloads.entry_atom(entity_set, row, call.base_url, select=options.select), ATOM_ENTRY)
