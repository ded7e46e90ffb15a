"""System query options of an entity-set read, and applying them in memory.

What clients send (shown decoded; the caller percent-decodes the query string)::

    JobTemplateSet?$filter=JobTemplateText eq 'Nightly load'&$select=JobTemplateName
    JobTemplateSet?$top=50000&$format=json
    JobHeaderSet?$select=JobName,JobRunCount,JobStatus&$filter=JobPlannedStartDateTime ge '20260101000000'
    JobHeaderSet?$orderby=JobCreaDateTime desc,JobName&$skip=20&$top=10&$inlinecount=allpages
    JobHeaderSet(...)?$expand=JobStepSet/JobStepLogInfoSet/JobLogMessageSet

:func:`parse_query` checks them all against the entity type's properties and
returns a :class:`QueryOptions`; parameters without a ``$`` (``sap-client``,
``sap-language``, ``saml2``, function-import parameters) are someone else's
and ignored. An unknown ``$`` option is an error, as on SAP Gateway
(``'$foo' is not a valid system query option``). :func:`apply` then filters,
sorts, counts (for ``$inlinecount``: after filtering, before paging), skips
and takes the top; ``$select``, ``$format`` and ``$expand`` are for whoever
renders the page.

The ``$filter`` syntax is in :mod:`appjobs.odata.filter`. Evaluation follows
OData's null rules: ``X eq null`` holds when X is null, any other comparison
or function of null is null, and an entity for which the filter is null does
not match. In ``$orderby``, null sorts first ascending and last descending.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

from appjobs import errors
from appjobs.odata import literals
from appjobs.odata.filter import (
    EQUALITY,
    FUNCTIONS,
    OPERATORS,
    And,
    Call,
    Compare,
    Literal,
    Node,
    Not,
    Or,
    Property,
    parse_filter,
)
from appjobs.odata.filter import MAX_LENGTH as MAX_OPTION_LENGTH

SYSTEM_OPTIONS = ("$filter", "$select", "$top", "$skip", "$orderby", "$inlinecount", "$format", "$expand")
UNSUPPORTED_OPTIONS = ("$skiptoken",)  # valid OData v2, but SAP serves it only where a data provider pages
FORMATS = ("json", "atom", "xml")
MAX_COUNT = 2**31 - 1  # $top and $skip are Edm.Int32 on Gateway
_COUNT_RE = re.compile(r"[0-9]{1,10}")
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclasses.dataclass(frozen=True)
class OrderBy:
    """One ``$orderby`` item: ``JobName desc`` is ``OrderBy("JobName", descending=True)``."""

    property: str
    descending: bool = False


@dataclasses.dataclass(frozen=True)
class QueryOptions:
    """The system query options of one request; the defaults mean "not given"."""

    filter: Node | None = None
    select: tuple[str, ...] | None = None  #: None: every property (absent, or ``*``)
    top: int | None = None
    skip: int = 0
    orderby: tuple[OrderBy, ...] = ()
    inlinecount: bool = False  #: ``$inlinecount=allpages``
    format: str | None = None  #: "json", "atom" or "xml" as given; None: negotiate by the Accept header
    expand: tuple[str, ...] = ()  #: navigation paths such as "JobStepSet/JobStepLogInfoSet"


def parse_query(
    params: Mapping[str, str] | Iterable[tuple[str, str]],
    properties: Mapping[str, str],
    *,
    navigations: Collection[str] = (),
) -> QueryOptions:
    """The system query options in *params* (decoded), checked against an entity type.

    *properties* maps the entity type's SAP property names to Edm types;
    *navigations* names its navigation properties, the only ones ``$expand``
    may start with (deeper path segments are left to the caller). Pass
    *params* as (name, value) pairs to have a repeated option reported.
    Every problem is an :class:`~appjobs.errors.InvalidInput` naming it.
    """
    options = _system_options(params)
    return QueryOptions(
        filter=parse_filter(options["$filter"], properties) if "$filter" in options else None,
        select=_select(options.get("$select"), properties, navigations),
        top=_count("$top", options.get("$top")),
        skip=_count("$skip", options.get("$skip")) or 0,
        orderby=_orderby(options.get("$orderby"), properties),
        inlinecount=_inlinecount(options.get("$inlinecount")),
        format=_format(options.get("$format")),
        expand=_expand(options.get("$expand"), navigations),
    )


def _system_options(params: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    pairs = params.items() if isinstance(params, Mapping) else params
    options: dict[str, str] = {}
    for name, value in pairs:
        if not name.startswith("$"):
            continue  # sap-client, sap-language, saml2 and function-import parameters are not ours
        if name in UNSUPPORTED_OPTIONS:
            raise errors.InvalidInput(f"'{name}' is not supported by this service")
        if name not in SYSTEM_OPTIONS:
            raise errors.InvalidInput(f"{_clip(name)} is not a valid system query option")
        if name in options:
            raise errors.InvalidInput(f"'{name}' is given more than once")
        if len(value) > MAX_OPTION_LENGTH:
            raise errors.InvalidInput(f"{name} is longer than {MAX_OPTION_LENGTH} characters")
        options[name] = value
    return options


def _clip(text: str) -> str:
    return repr(text) if len(text) <= 40 else repr(text[:40]) + "..."


def _invalid_value(name: str, text: str, expected: str) -> errors.InvalidInput:
    # Gateway's wording, then what would have been accepted.
    return errors.InvalidInput(f"Invalid system query options value: {name}={_clip(text)}; expected {expected}")


def _count(name: str, text: str | None) -> int | None:
    if text is None:
        return None
    if not _COUNT_RE.fullmatch(text) or int(text) > MAX_COUNT:
        raise _invalid_value(name, text, f"a whole number from 0 to {MAX_COUNT}")
    return int(text)


def _select(text: str | None, properties: Mapping[str, str], navigations: Collection[str]) -> tuple[str, ...] | None:
    if text is None:
        return None
    names = [name.strip() for name in text.split(",")]
    for name in names:
        if not name:
            raise errors.InvalidInput(f"$select: empty property name in {_clip(text)}")
        if name != "*" and name not in properties and name not in navigations:
            raise errors.InvalidInput(f"$select: unknown property {_clip(name)}")
    return None if "*" in names else tuple(dict.fromkeys(names))


def _orderby(text: str | None, properties: Mapping[str, str]) -> tuple[OrderBy, ...]:
    if text is None:
        return ()
    items = []
    for part in text.split(","):
        words = part.split()
        if len(words) not in (1, 2) or words[1:] not in ([], ["asc"], ["desc"]):
            raise errors.InvalidInput(f"$orderby: {_clip(part.strip())} is not 'Name', 'Name asc' or 'Name desc'")
        if words[0] not in properties:
            raise errors.InvalidInput(f"$orderby: unknown property {_clip(words[0])}")
        items.append(OrderBy(words[0], descending=words[1:] == ["desc"]))
    return tuple(items)


def _inlinecount(text: str | None) -> bool:
    if text is not None and text not in ("allpages", "none"):
        raise _invalid_value("$inlinecount", text, "allpages or none")
    return text == "allpages"


def _format(text: str | None) -> str | None:
    if text is not None and text not in FORMATS:
        raise _invalid_value("$format", text, " or ".join(FORMATS))
    return text


def _expand(text: str | None, navigations: Collection[str]) -> tuple[str, ...]:
    if text is None:
        return ()
    paths = [path.strip() for path in text.split(",")]
    for path in paths:
        segments = path.split("/")
        if not all(_NAME_RE.fullmatch(segment) for segment in segments):
            raise errors.InvalidInput(f"$expand: {_clip(path)} is not a path like JobStepSet/JobStepLogInfoSet")
        if segments[0] not in navigations:
            raise errors.InvalidInput(f"$expand: {_clip(segments[0])} is not a navigation property here")
    return tuple(dict.fromkeys(paths))


# --- applying ------------------------------------------------------------------------


def apply(options: QueryOptions, entities: Iterable[Mapping[str, object]]) -> tuple[list[Mapping[str, object]], int]:
    """The page of *entities* that *options* select, and how many matched before ``$skip`` and ``$top``.

    Entities map SAP property names to values (a missing property is null).
    They come back as given: ``$select`` is applied when rendering, since
    keys and metadata are needed for every entity regardless.
    """
    selected = [entity for entity in entities if options.filter is None or matches(options.filter, entity)]
    # Sorting by the last key first, with a stable sort, sorts by all keys in order.
    for item in reversed(options.orderby):
        selected.sort(key=_sort_key(item.property), reverse=item.descending)
    end = None if options.top is None else options.skip + options.top
    return selected[options.skip : end], len(selected)


def _sort_key(name: str) -> Callable[[Mapping[str, object]], tuple[bool, Any]]:
    # (False, None) sorts before any (True, value), and None is never compared with a value.
    return lambda entity: (entity.get(name) is not None, _aware(entity.get(name)))


def matches(node: Node, entity: Mapping[str, object]) -> bool:
    """True when filter *node* holds for *entity*."""
    return evaluate(node, entity) is True


def evaluate(node: Node, entity: Mapping[str, object]) -> object:
    """The value of *node* for *entity*: None for null, else a Python value of the node's Edm type."""
    return _EVALUATORS[type(node)](node, entity)


def _evaluate_call(node: Call, entity: Mapping[str, object]) -> object:
    args = [evaluate(arg, entity) for arg in node.args]
    return None if any(arg is None for arg in args) else FUNCTIONS[node.function].apply(*args)


def _evaluate_compare(node: Compare, entity: Mapping[str, object]) -> bool | None:
    left, right = evaluate(node.left, entity), evaluate(node.right, entity)
    if left is None or right is None:
        if node.op in EQUALITY:
            return (left is None and right is None) == (node.op == "eq")
        return None
    return bool(OPERATORS[node.op](_aware(left), _aware(right)))


def _aware(value: object) -> object:
    # Edm.DateTime is UTC; a naive datetime from a caller must not break comparing with an aware literal.
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=literals.UTC)
    return value


def _evaluate_not(node: Not, entity: Mapping[str, object]) -> bool | None:
    value = evaluate(node.operand, entity)
    return None if value is None else not value


def _evaluate_and(node: And, entity: Mapping[str, object]) -> bool | None:
    result: bool | None = True
    for operand in node.operands:
        value = evaluate(operand, entity)
        if value is False:
            return False
        if value is None:
            result = None
    return result


def _evaluate_or(node: Or, entity: Mapping[str, object]) -> bool | None:
    result: bool | None = False
    for operand in node.operands:
        value = evaluate(operand, entity)
        if value is True:
            return True
        if value is None:
            result = None
    return result


_EVALUATORS: dict[type, Callable[[Any, Mapping[str, object]], object]] = {
    Literal: lambda node, _entity: node.value,
    Property: lambda node, entity: entity.get(node.name),
    Call: _evaluate_call,
    Compare: _evaluate_compare,
    Not: _evaluate_not,
    And: _evaluate_and,
    Or: _evaluate_or,
}
