"""OData v2 key predicates: the text between an entity's parentheses, which names one entity.

With a single key the name may be left out::

    JobTemplateSet(JobTemplateName='%2FIBP%2FCREATE_TIME_PERIODS',JobTemplateVersion='0')
    JobStatusInfoSet('C')

Each value is a URI literal (:mod:`appjobs.odata.literals`). Who decodes:
:func:`parse_key_predicate` reads *decoded* text -- a server splits the raw path
on ``/`` first, percent-decodes the segment, then parses the text between the
parentheses -- while :func:`format_key_predicate` percent-encodes, because
SAP's entity ids carry keys encoded (``'%2FIBP%2F...'``).
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping

from appjobs import errors
from appjobs.odata.literals import MALFORMED, format_literal, parse_literal, shown

_KEY_NAME_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=")
_KEY_VALUE_RE = re.compile(r"'(?:[^']|'')*'|[A-Za-z]+'[^']*'|[^,']*", re.DOTALL)


def parse_key_predicate(
    text: str, keys: Mapping[str, str], *, max_lengths: Mapping[str, int] | None = None
) -> dict[str, object]:
    """The key values in *text*, the decoded text between an entity's parentheses.

    *keys* maps each key property to its Edm type, in key order::

        >>> parse_key_predicate("JobTemplateName='/IBP/X',JobTemplateVersion='0'",
        ...                     {"JobTemplateName": "Edm.String", "JobTemplateVersion": "Edm.String"})
        {'JobTemplateName': '/IBP/X', 'JobTemplateVersion': '0'}

    With one key, ``'C'`` alone is accepted too. Bad syntax or a bad value is a
    :class:`~appjobs.errors.MalformedLiteral`; an unknown, repeated or missing
    key is :class:`~appjobs.errors.InvalidInput`.
    """
    if len(keys) == 1 and not _KEY_NAME_RE.match(text):
        pairs = [(next(iter(keys)), text)]
    else:
        pairs = _split_key_predicate(text)
    values: dict[str, object] = {}
    for name, literal in pairs:
        if name not in keys:
            raise errors.InvalidInput(f"{name!r} is not a key property; the keys are {', '.join(keys)}")
        if name in values:
            raise errors.InvalidInput(f"key property {name!r} is given twice")
        values[name] = parse_literal(literal, keys[name], max_length=(max_lengths or {}).get(name), name=name)
    missing = [name for name in keys if name not in values]
    if missing:
        raise errors.InvalidInput(f"key property {missing[0]!r} is missing")
    return {name: values[name] for name in keys}


def _split_key_predicate(text: str) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    position = 0
    while True:
        name = _KEY_NAME_RE.match(text, position)
        if not name:
            raise errors.MalformedLiteral(
                f"{MALFORMED}: key predicate {shown(text)}: expected Name=value at position {position + 1}"
            )
        value = _KEY_VALUE_RE.match(text, name.end())
        assert value is not None  # its last alternative matches the empty string
        pairs.append((name[1], value[0]))
        position = value.end()
        if position == len(text):
            return pairs
        if text[position] != ",":
            raise errors.MalformedLiteral(
                f"{MALFORMED}: key predicate {shown(text)}: expected ',' at position {position + 1}"
            )
        position += 1


def format_key_predicate(values: Mapping[str, object], keys: Mapping[str, str], *, percent_encode: bool = True) -> str:
    """The text between an entity's parentheses, as SAP writes it in ids and links.

    Values are percent-encoded (``/`` too) unless *percent_encode* is false;
    quotes, ``=`` and ``,`` stay as they are, as in the Atom id
    ``JobTemplateSet(JobTemplateName='%2FIBP%2FX',JobTemplateVersion='0')``.
    A single key is written alone::

        >>> keys = {"JobTemplateName": "Edm.String", "JobTemplateVersion": "Edm.String"}
        >>> format_key_predicate({"JobTemplateName": "/IBP/X", "JobTemplateVersion": "0"}, keys)
        "JobTemplateName='%2FIBP%2FX',JobTemplateVersion='0'"
        >>> format_key_predicate({"JobStatus": "C"}, {"JobStatus": "Edm.String"})
        "'C'"
    """
    literals = []
    for name, edm_type in keys.items():
        if name not in values:
            raise errors.InvalidInput(f"key property {name!r} has no value")
        literal = format_literal(values[name], edm_type)
        if percent_encode:
            try:
                literal = urllib.parse.quote(literal, safe="'")
            except UnicodeEncodeError as exc:  # a lone surrogate has no UTF-8 form
                raise errors.InvalidInput(f"key property {name!r}: {values[name]!r} is not valid Unicode") from exc
        literals.append((name, literal))
    if len(literals) == 1:
        return literals[0][1]
    return ",".join(f"{name}={literal}" for name, literal in literals)
