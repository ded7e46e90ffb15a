"""OData v2 URI literals: the typed values in function-import parameters, key predicates and ``$filter``.

A literal's syntax tells its type; the service's metadata tells which type a
parameter or key must have. These are the literals handled here::

    Edm.String          'O''Brien'   ''   ' '                 a quote inside is doubled
    Edm.Boolean         true   false
    Edm.Int32           42   -7   0042                       also Edm.Int16, Edm.Byte, Edm.SByte
    Edm.Int64           42L   42
    Edm.Decimal         1.5M   1.5   2
    Edm.DateTime        datetime'2018-11-20T00:00'           seconds and up to 7 fraction digits optional,
                        datetime'2018-11-20T00:00:00.1234567'  always UTC, never an offset
    Edm.DateTimeOffset  datetimeoffset'2018-11-20T00:00:00Z'   or ...+01:00
    Edm.Time            time'PT12H30M'   time'PT08H00M15S'   a time of day
    Edm.Guid            guid'0050568b-2bd1-1ed8-8bd1-4e8b4f1a0c7d'

Prefixes (``datetime``, ``guid``...) are case-insensitive, as on SAP Gateway;
nothing else is. :func:`parse_literal` reads a literal of a known type::

    >>> parse_literal("datetime'2018-11-20T00:00:00'", "Edm.DateTime")
    datetime.datetime(2018, 11, 20, 0, 0, tzinfo=datetime.timezone.utc)
    >>> parse_literal("'O''Brien'", "Edm.String", max_length=40)
    "O'Brien"

and raises :class:`~appjobs.errors.MalformedLiteral` (SAP's 400 "Malformed
URI literal syntax") for anything else - a missing quote, a wrong type, a
string longer than the MaxLength. :func:`format_literal` writes what a client
must send (``format_literal("O'Brien", "Edm.String") == "'O''Brien'"``).

Key predicates, built of these literals, are in :mod:`appjobs.odata.keys`.
Everything here reads and writes *decoded* text; a client percent-encodes
what :func:`format_literal` returns.
"""

from __future__ import annotations

import datetime as dt
import decimal
import functools
import re
import uuid
from collections.abc import Callable

from appjobs import errors

UTC = dt.UTC
MALFORMED = "Malformed URI literal syntax"

INT_RANGES = {
    "Edm.Byte": (0, 2**8 - 1),
    "Edm.SByte": (-(2**7), 2**7 - 1),
    "Edm.Int16": (-(2**15), 2**15 - 1),
    "Edm.Int32": (-(2**31), 2**31 - 1),
    "Edm.Int64": (-(2**63), 2**63 - 1),
}
# Shown in error messages, so a caller sees what would have been accepted.
EXAMPLES = {
    "Edm.String": "'text'",
    "Edm.Boolean": "true",
    "Edm.Byte": "42 (0 to 255)",
    "Edm.SByte": "-42 (-128 to 127)",
    "Edm.Int16": "42 (-32768 to 32767)",
    "Edm.Int32": "42 (-2147483648 to 2147483647)",
    "Edm.Int64": "42L",
    "Edm.Decimal": "1.5M",
    "Edm.DateTime": "datetime'2018-11-20T00:00:00'",
    "Edm.DateTimeOffset": "datetimeoffset'2018-11-20T00:00:00Z'",
    "Edm.Time": "time'PT12H30M'",
    "Edm.Guid": "guid'0050568b-2bd1-1ed8-8bd1-4e8b4f1a0c7d'",
}
PREFIXES = {"datetime": "Edm.DateTime", "datetimeoffset": "Edm.DateTimeOffset", "time": "Edm.Time", "guid": "Edm.Guid"}

_STRING_RE = re.compile(r"'((?:[^']|'')*)'", re.DOTALL)
_INT_RE = re.compile(r"([+-]?[0-9]{1,20})([Ll]?)")
_DECIMAL_RE = re.compile(r"[+-]?[0-9]{1,29}(?:\.[0-9]{1,29})?[Mm]?")
_STAMP = r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{1,7}))?)?"
_DATETIME_RE = re.compile(rf"(?i:datetime)'{_STAMP}'")
_DATETIMEOFFSET_RE = re.compile(rf"(?i:datetimeoffset)'{_STAMP}(Z|[+-][0-9]{{2}}:[0-9]{{2}})'")
_TIME_RE = re.compile(r"(?i:time)'PT(?:([0-9]{1,2})H)?(?:([0-9]{1,2})M)?(?:([0-9]{1,2})(?:\.([0-9]{1,7}))?S)?'")
_GUID_RE = re.compile(r"(?i:guid)'([0-9A-Fa-f]{8}-(?:[0-9A-Fa-f]{4}-){3}[0-9A-Fa-f]{12})'")


# --- parsing -------------------------------------------------------------------------


def parse_literal(text: str, edm_type: str, *, max_length: int | None = None, name: str | None = None) -> object:
    """The value of literal *text* as an *edm_type* such as ``"Edm.Int32"``; ``errors.MalformedLiteral`` if none.

    *max_length* is the MaxLength facet of an Edm.String parameter or key;
    *name* (the parameter's) only improves the error message. ``null`` is not
    accepted: an absent parameter is how OData v2 says null. A string
    holding a NUL character is malformed too: no value here may hold one.
    """
    parse = _PARSERS.get(edm_type)
    if parse is None:
        raise ValueError(f"unsupported Edm type {edm_type!r}")
    where = f"{name}: " if name else ""
    value = parse(text)
    if value is None:
        raise errors.MalformedLiteral(
            f"{MALFORMED}: {where}{shown(text)} is not a valid {edm_type} literal (expected e.g. {EXAMPLES[edm_type]})"
        )
    if isinstance(value, str) and "\x00" in value:
        # No value of this service can hold a NUL (PostgreSQL's text cannot store one): refused at the edge.
        raise errors.MalformedLiteral(f"{MALFORMED}: {where}{shown(text)} contains a NUL character (%00)")
    if max_length is not None and isinstance(value, str) and abap_length(value) > max_length:
        raise errors.MalformedLiteral(
            f"{MALFORMED}: {where}{shown(text)} has {abap_length(value)} characters, more than MaxLength {max_length}"
        )
    return value


def infer_literal(text: str) -> tuple[object, str]:
    """The value and Edm type of a literal whose syntax tells its type, as in ``$filter``.

    ``'x'`` is an Edm.String, ``42`` an Edm.Int32 (Edm.Int64 when too big),
    ``42L`` an Edm.Int64, ``1.5`` or ``1M`` an Edm.Decimal, a prefix names
    the rest: ``infer_literal("datetime'2018-11-20T00:00'")[1] == "Edm.DateTime"``.
    """
    edm_type = _literal_type(text)
    return parse_literal(text, edm_type), edm_type


def abap_length(text: str) -> int:
    """The length of *text* as SAP counts it against MaxLength.

    ABAP strings are UTF-16, so a character outside the Basic Multilingual
    Plane (most emoji) counts twice.
    """
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _literal_type(text: str) -> str:
    if text.startswith("'"):
        return "Edm.String"
    if text in ("true", "false"):
        return "Edm.Boolean"
    prefix, quote, _ = text.partition("'")
    if quote:
        if prefix.lower() in PREFIXES:
            return PREFIXES[prefix.lower()]
        raise errors.MalformedLiteral(f"{MALFORMED}: {shown(text)} has an unsupported literal prefix {prefix!r}")
    number = _INT_RE.fullmatch(text)
    if number and not number[2]:
        low, high = INT_RANGES["Edm.Int32"]
        return "Edm.Int32" if low <= int(number[1]) <= high else "Edm.Int64"
    if number:
        return "Edm.Int64"
    if _DECIMAL_RE.fullmatch(text):
        return "Edm.Decimal"
    raise errors.MalformedLiteral(f"{MALFORMED}: {shown(text)} is not a literal")


def shown(text: str) -> str:
    # Error messages echo the input; a megabyte of it would help nobody.
    return repr(text) if len(text) <= 60 else repr(text[:60]) + "..."


def _parse_string(text: str) -> str | None:
    match = _STRING_RE.fullmatch(text)
    return match[1].replace("''", "'") if match else None


def _parse_boolean(text: str) -> bool | None:
    return {"true": True, "false": False}.get(text)


def _parse_int(edm_type: str, text: str) -> int | None:
    match = _INT_RE.fullmatch(text)
    if not match or (match[2] and edm_type != "Edm.Int64"):
        return None
    low, high = INT_RANGES[edm_type]
    value = int(match[1])
    return value if low <= value <= high else None


def _parse_decimal(text: str) -> decimal.Decimal | None:
    return decimal.Decimal(text.rstrip("Mm")) if _DECIMAL_RE.fullmatch(text) else None


def _parse_datetime(text: str) -> dt.datetime | None:
    match = _DATETIME_RE.fullmatch(text)
    return _datetime(match.groups(), UTC) if match else None


def _parse_datetimeoffset(text: str) -> dt.datetime | None:
    match = _DATETIMEOFFSET_RE.fullmatch(text)
    if not match:
        return None
    offset = match[8]
    if offset == "Z":
        return _datetime(match.groups(), UTC)
    sign = -1 if offset[0] == "-" else 1
    delta = dt.timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6]))
    if delta >= dt.timedelta(hours=24):
        return None
    return _datetime(match.groups(), dt.timezone(sign * delta))


def _datetime(groups: tuple[str | None, ...], tz: dt.tzinfo) -> dt.datetime | None:
    year, month, day, hour, minute, second = (int(group or 0) for group in groups[:6])
    try:
        return dt.datetime(year, month, day, hour, minute, second, _microseconds(groups[6]), tzinfo=tz)
    except ValueError:  # month 13, February 30, year 0000...
        return None


def _microseconds(fraction: str | None) -> int:
    # SAP sends up to 7 digits (100 ns); Python keeps 6, so the 7th is dropped, not rounded into the next second.
    return int((fraction or "").ljust(7, "0")[:6])


def _parse_time(text: str) -> dt.time | None:
    match = _TIME_RE.fullmatch(text)
    if not match or not any(match.groups()):
        return None
    hours, minutes, seconds, fraction = match.groups()
    try:
        return dt.time(int(hours or 0), int(minutes or 0), int(seconds or 0), _microseconds(fraction))
    except ValueError:
        return None


def _parse_guid(text: str) -> uuid.UUID | None:
    match = _GUID_RE.fullmatch(text)
    return uuid.UUID(match[1]) if match else None


_PARSERS: dict[str, Callable[[str], object]] = {
    "Edm.String": _parse_string,
    "Edm.Boolean": _parse_boolean,
    **{edm_type: functools.partial(_parse_int, edm_type) for edm_type in INT_RANGES},
    "Edm.Decimal": _parse_decimal,
    "Edm.DateTime": _parse_datetime,
    "Edm.DateTimeOffset": _parse_datetimeoffset,
    "Edm.Time": _parse_time,
    "Edm.Guid": _parse_guid,
}


# --- formatting ----------------------------------------------------------------------


def format_literal(value: object, edm_type: str) -> str:
    """The literal a client sends for *value* as an *edm_type*, not yet percent-encoded.

    ``"O'Brien"`` -> ``'O''Brien'``; a timezone-aware datetime as Edm.DateTime
    -> ``datetime'2018-11-20T00:00:00'`` (converted to UTC; 7 fraction digits
    only when it has microseconds); ``True`` -> ``true``; ``7`` as Edm.Int64 ->
    ``7L``. :class:`~appjobs.errors.InvalidInput` if *value* does not fit
    (a naive datetime, ``True`` as an Edm.Int32, 2**31 as an Edm.Int32).
    """
    write = _FORMATTERS.get(edm_type)
    if write is None:
        raise ValueError(f"unsupported Edm type {edm_type!r}")
    text = write(value)
    if text is None:
        raise errors.InvalidInput(f"{value!r} cannot be written as an {edm_type} literal")
    return text


def _format_string(value: object) -> str | None:
    return "'" + value.replace("'", "''") + "'" if isinstance(value, str) else None


def _format_boolean(value: object) -> str | None:
    return ("true" if value else "false") if isinstance(value, bool) else None


def _format_int(edm_type: str, value: object) -> str | None:
    low, high = INT_RANGES[edm_type]
    # bool is an int in Python, but True is not an OData number.
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        return None
    return f"{value}L" if edm_type == "Edm.Int64" else str(value)


def _format_decimal(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, decimal.Decimal)):
        return None
    number = decimal.Decimal(value)
    return format(number, "f") + "M" if number.is_finite() else None


def _format_datetime(value: object) -> str | None:
    if not isinstance(value, dt.datetime) or value.utcoffset() is None:
        return None  # a naive datetime could mean any instant
    try:
        return f"datetime'{_stamp(value.astimezone(UTC))}'"
    except OverflowError:  # year 1 or 9999 moved past the calendar's edge
        return None


def _format_datetimeoffset(value: object) -> str | None:
    if not isinstance(value, dt.datetime):
        return None
    offset = value.utcoffset()
    if offset is None or offset % dt.timedelta(minutes=1):
        return None  # the literal has no room for seconds in an offset
    minutes = int(abs(offset) / dt.timedelta(minutes=1))
    zone = "Z" if not offset else f"{'-' if offset < dt.timedelta(0) else '+'}{minutes // 60:02d}:{minutes % 60:02d}"
    return f"datetimeoffset'{_stamp(value)}{zone}'"


def _stamp(value: dt.datetime) -> str:
    # strftime("%Y") drops leading zeros of years before 1000 on glibc, so spell it out.
    text = f"{value.year:04d}-{value.month:02d}-{value.day:02d}T{value.hour:02d}:{value.minute:02d}:{value.second:02d}"
    return text + (f".{value.microsecond:06d}0" if value.microsecond else "")


def _format_time(value: object) -> str | None:
    if not isinstance(value, dt.time) or value.tzinfo is not None:
        return None
    fraction = f".{value.microsecond:06d}0" if value.microsecond else ""
    return f"time'PT{value.hour:02d}H{value.minute:02d}M{value.second:02d}{fraction}S'"


def _format_guid(value: object) -> str | None:
    return f"guid'{value}'" if isinstance(value, uuid.UUID) else None


_FORMATTERS: dict[str, Callable[[object], str | None]] = {
    "Edm.String": _format_string,
    "Edm.Boolean": _format_boolean,
    **{edm_type: functools.partial(_format_int, edm_type) for edm_type in INT_RANGES},
    "Edm.Decimal": _format_decimal,
    "Edm.DateTime": _format_datetime,
    "Edm.DateTimeOffset": _format_datetimeoffset,
    "Edm.Time": _format_time,
    "Edm.Guid": _format_guid,
}
