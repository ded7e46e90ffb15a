"""OData v2 literals for function-import parameters, and the query strings that carry them.

A parameter's value travels as a typed literal, then percent-encoded as UTF-8::

    string("O'Brien")                         -> "'O''Brien'"          a quote inside is doubled
    boolean(False)                            -> "false"
    datetime_(datetime(2024, 1, 1, tzinfo=UTC)) -> "datetime'2024-01-01T00:00:00'"
    query([("JobText", "'Müller & Söhne'")])  -> "JobText='M%C3%BCller%20%26%20S%C3%B6hne'"

The guide's samples get this wrong in the two classic ways: quotes in a job
text are not doubled, and spaces become ``+`` (``URLEncoder``), which an OData
server may read as a plus sign. Here a space is ``%20`` and a plus ``%2B``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from urllib.parse import quote

# Left readable in the URL, as the guide writes them: the quotes of literals and the colons of times.
# Everything else that is not unreserved is percent-encoded, '&', '=', '+', '#' and '%' above all.
_SAFE = "':"


def string(value: str) -> str:
    """An Edm.String literal: ``'text'`` with every ``'`` doubled."""
    return "'" + value.replace("'", "''") + "'"


def boolean(value: bool) -> str:
    """An Edm.Boolean literal: ``true`` or ``false``."""
    return "true" if value else "false"


def datetime_(value: dt.datetime) -> str:
    """An Edm.DateTime literal in UTC, whole seconds: ``datetime'2018-11-20T00:00:00'``.

    Edm.DateTime has no offset; SAP reads it as UTC. An aware *value* is
    converted to UTC, a naive one is taken to be UTC already.
    """
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC)
    return "datetime'" + value.replace(tzinfo=None).isoformat(timespec="seconds") + "'"


def query(pairs: Iterable[tuple[str, str]]) -> str:
    """A query string from (name, literal) pairs; names are ours and plain, values get percent-encoded."""
    return "&".join(f"{name}={quote(value, safe=_SAFE)}" for name, value in pairs)
