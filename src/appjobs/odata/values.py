"""Edm values as SAP Gateway writes them: in Atom, in JSON and in key predicates.

The serializers in :mod:`appjobs.odata.payloads` call these for every value,
so each has a fast path for the common case (short ASCII text)::

    atom_datetime(datetime(2015, 9, 1, 15, 42, 36, 94466, UTC), 7)   -> '2015-09-01T15:42:36.0944660'
    atom_datetime(datetime(2018, 11, 20, tzinfo=UTC), 0)              -> '2018-11-20T00:00:00'
    json_datetime(datetime(2017, 4, 13, 15, 51, 4, tzinfo=UTC))       -> '"\\/Date(1492098664000)\\/"'
    key_predicate(JOB_TEMPLATE, {"JobTemplateName": "/IBP/X", …})     -> "(JobTemplateName='%2FIBP%2FX',…)"
    key_predicate(JOB_STATUS_INFO, {"JobStatus": "C", …})             -> "('C')"
    xml_text("a < b & c")                                             -> 'a &lt; b &amp; c'

Times are UTC: an aware datetime is converted, a naive one is taken as UTC.
Parsing URI literals is :mod:`appjobs.odata.literals`' job, not this module's.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
import re
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from appjobs.odata import model

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MILLISECOND = dt.timedelta(milliseconds=1)

# Characters XML 1.0 cannot carry at all, not even as references.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def xml_text(value: str) -> str:
    """*value* escaped for XML character data.

    ``\\r`` becomes ``&#13;`` because parsers would otherwise fold ``\\r\\n`` to
    ``\\n``; characters XML 1.0 cannot represent become U+FFFD, so that a stray
    control character in a job text cannot make the whole response unparsable.
    """
    if value.isalnum():
        return value
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if not value.isprintable():
        value = _NOT_XML.sub("\ufffd", value.replace("\r", "&#13;"))
    return value


@functools.lru_cache(maxsize=64)
def xml_attr(value: str) -> str:
    """*value* escaped for a double-quoted XML attribute; cached, as the same base URL comes back every request."""
    value = xml_text(value).replace('"', "&quot;")
    return value.replace("\n", "&#10;").replace("\t", "&#9;") if not value.isprintable() else value


def _utc(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo is not None else value


def atom_datetime(value: dt.datetime, precision: int | None) -> str:
    """An Edm.DateTime for Atom and XML: seconds, then *precision* fractional digits (at most 7).

    Python keeps microseconds, so the seventh digit is always 0, as in the
    guide's ``2015-09-01T15:42:36.0944660``.
    """
    value = _utc(value)
    text = value.isoformat(timespec="seconds")
    if precision:
        text += "." + f"{value.microsecond:06d}0"[:precision]
    return text


def json_datetime(value: dt.datetime) -> str:
    """An Edm.DateTime as a JSON token: ``"\\/Date(<ms since 1970 UTC>)\\/"`` (quotes included).

    Gateway escapes the slashes; decoded, the value is ``/Date(1492098664000)/``.
    """
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return f'"\\/Date({(value - _EPOCH) // _MILLISECOND})\\/"'


# Formatting the current time would be a tenth of a JobStatusGet answer, and it changes once a
# second: keep the last (second, text) pair. Replacing the one tuple is atomic across threads.
_last_stamp: list[tuple[int, str]] = [(0, "")]


def updated_stamp(value: dt.datetime | None = None) -> str:
    """An Atom ``<updated>`` value, whole seconds with ``Z``: ``2017-02-22T14:27:51Z``; None means now."""
    if value is not None:
        return _utc(value).isoformat(timespec="seconds") + "Z"
    second = int(time.time())
    cached = _last_stamp[0]
    if cached[0] != second:
        cached = (second, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second)))
        _last_stamp[0] = cached
    return cached[1]


def _string_literal(value: str) -> str:
    if value.isalnum() and value.isascii():
        return f"'{value}'"
    # Gateway percent-encodes '/' (guide: '%2FIBP%2FCREATE_TIME_PERIODS') and '$' ('%24000000001');
    # a quote inside the value is doubled, as in every OData string literal.
    return "'" + quote(value.replace("'", "''"), safe="'") + "'"


def _int_literal(value: Any) -> str:
    return str(int(value))


def _bool_literal(value: Any) -> str:
    return "true" if value else "false"


def _key_literal(prop: model.Property) -> Callable[[Any], str]:
    if prop.edm_type == model.STRING:
        return _string_literal
    if prop.edm_type in (model.INT16, model.INT32):
        return _int_literal
    if prop.edm_type == model.BOOLEAN:
        return _bool_literal
    raise ValueError(f"{prop.name}: {prop.edm_type} cannot be a key here")


@functools.cache
def key_formatter(entity_type: model.EntityType) -> Callable[[Mapping[str, Any]], str]:
    """A function that writes the key part of an entity's id: ``(A='1',B='2')``, or ``('1')`` for a single key.

    The short form for single keys is what Gateway writes (``ZA_SupplierApi('%24000000001')``).
    The function is built once per type: ids are written for every entity of every response.
    """
    parts = [(p.name, _key_literal(p)) for p in entity_type.key_properties]
    if len(parts) == 1:
        ((name, literal),) = parts
        return lambda entity: f"({literal(entity[name])})"
    if len(parts) == 2:
        (name1, literal1), (name2, literal2) = parts
        return lambda entity: f"({name1}={literal1(entity[name1])},{name2}={literal2(entity[name2])})"
    return _long_key_formatter(parts)


def _long_key_formatter(parts: list[tuple[str, Callable[[Any], str]]]) -> Callable[[Mapping[str, Any]], str]:
    """Keys of three or more properties: the entities of one feed share all but the last (a log's messages
    share job, step and log handle), so the prefix is written once per distinct head and remembered."""
    *head, (last_name, last_literal) = parts
    head_values = operator.itemgetter(*(name for name, _ in head))
    prefixes: dict[Any, str] = {}

    def format_key(entity: Mapping[str, Any]) -> str:
        values = head_values(entity)
        prefix = prefixes.get(values)
        if prefix is None:
            if len(prefixes) >= 1024:
                prefixes.clear()  # bounded; a lost entry is only written again
            prefix = prefixes[values] = "(" + "".join(f"{name}={literal(entity[name])}," for name, literal in head)
        return f"{prefix}{last_name}={last_literal(entity[last_name])})"

    return format_key


def key_predicate(entity_type: model.EntityType, entity: Mapping[str, Any]) -> str:
    """The key part of *entity*'s id, e.g. ``(JobName='38EA…',JobRunCount='JtUpUsyH')``."""
    return key_formatter(entity_type)(entity)
