"""Entities, feeds and error documents, serialized the way SAP Gateway writes them.

Every serializer takes plain dicts keyed by SAP property names (built by
:mod:`appjobs.odata.entities`), the :class:`~appjobs.odata.model.EntitySet`
they belong to (which knows the type, its keys and the name used in ids), and
the service root *base_url* ending in ``/``. They return UTF-8 bytes.

A function-import result in Atom (``entry_atom``), as in the IBP guide's capture
(Gateway writes it on one line; broken up here)::

    <?xml version="1.0" encoding="utf-8"?>
    <entry xmlns="http://www.w3.org/2005/Atom" xmlns:m=".../dataservices/metadata"
           xmlns:d=".../dataservices" xml:base="https://host/sap/opu/odata/sap/BC_EXT_APPJOB_MANAGEMENT;v=0002/">
     <id>https://host/…;v=0002/JobScheduleStatusCollection(JobName='38EA…DF9C',JobRunCount='JtUpUsyH')</id>
     <title type="text">JobScheduleStatusCollection(JobName='38EA…DF9C',JobRunCount='JtUpUsyH')</title>
     <updated>2017-02-22T14:27:51Z</updated>
     <category term="BC_EXT_APPJOB_MANAGEMENT.JobScheduleStatus" scheme=".../dataservices/scheme"/>
     <link href="JobScheduleStatusCollection(JobName='38EA…DF9C',JobRunCount='JtUpUsyH')" rel="edit"
           title="JobScheduleStatus"/>
     <content type="application/xml"><m:properties>
      <d:JobName>38EA…DF9C</d:JobName><d:JobRunCount>JtUpUsyH</d:JobRunCount><d:JobStatus/>
      <d:ReturnCode>0</d:ReturnCode>
     </m:properties></content>
    </entry>

A feed (``feed_atom``) has ``<id>``, ``<title>``, ``<updated>``, ``<author><name/></author>``,
a self link, then ``<m:count>`` if asked for, then the entries, whose
``<m:properties>`` re-declare ``xmlns:m`` and ``xmlns:d`` as in the guide's
JobTemplateSet capture. Attributes come in the raw order Gateway writes
(``term`` before ``scheme``, ``href rel title``); the SAP GUI client in the
guide's screenshots shows them reversed.

Verbose JSON (``entry_json`` / ``feed_json``)::

    {"d": {"__metadata": {"id": "<uri>", "uri": "<uri>", "type": "BC_EXT_APPJOB_MANAGEMENT.JobScheduleStatus"},
           "JobName": "38EA…DF9C", "JobRunCount": "JtUpUsyH", "JobStatus": "", "ReturnCode": 0}}
    {"d": {"__count": "2", "results": [{"__metadata": …, …}, …]}}

Values: Edm.DateTime is ``2015-09-01T15:42:36.0944660`` in Atom (as many
fractional digits as the property's Precision) and ``"\\/Date(1492098664000)\\/"``
in JSON; None is ``<d:X m:null="true"/>`` / ``null``; an empty string is
``<d:X/>``; booleans are ``true``/``false``; Int16/Int32 are JSON numbers.
*select* (a ``$select`` list) keeps only the named properties; ids still use the
keys, so the dicts must always hold them.

Navigation properties follow Gateway: in Atom a link after the edit link,
``<link href="JobHeaderSet(…)/JobStepSet" rel="…/dataservices/related/JobStepSet"
type="application/atom+xml;type=feed" title="JobStepSet"/>``, holding
``<m:inline><feed>…</feed></m:inline>`` when expanded; in JSON after the
properties, ``"JobStepSet":{"__deferred":{"uri":"<absolute>/JobHeaderSet(…)/JobStepSet"}}``
or, expanded, ``"JobStepSet":{"results":[…]}``. An entity dict expands a
navigation by holding the list of its targets under the navigation's name.
A ``$select`` list keeps the deferred links it names (all when there is none).

Error documents are :func:`appjobs.odata.errordocs.error_document`, re-exported here.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from json.encoder import encode_basestring  # the C implementation when available
from typing import Any

from appjobs.odata import model
from appjobs.odata.errordocs import ErrorDetail, error_document
from appjobs.odata.values import atom_datetime, json_datetime, key_formatter, updated_stamp, xml_attr, xml_text

__all__ = ["ErrorDetail", "entry_atom", "entry_json", "error_document", "feed_atom", "feed_json"]

ATOM_NS = "http://www.w3.org/2005/Atom"
DATA_NS = "http://schemas.microsoft.com/ado/2007/08/dataservices"
METADATA_NS = "http://schemas.microsoft.com/ado/2007/08/dataservices/metadata"
SCHEME = "http://schemas.microsoft.com/ado/2007/08/dataservices/scheme"
RELATED = "http://schemas.microsoft.com/ado/2007/08/dataservices/related/"
_FEED_LINK_TYPE = '" type="application/atom+xml;type=feed" title="'

_XML_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>'
_NAMESPACES = f'xmlns="{ATOM_NS}" xmlns:m="{METADATA_NS}" xmlns:d="{DATA_NS}"'
_PROPERTIES_IN_FEED = f'<m:properties xmlns:m="{METADATA_NS}" xmlns:d="{DATA_NS}">'
_CONTENT_END = "</m:properties></content></entry>"

Entity = Mapping[str, Any]


def _int_text(value: Any) -> str:
    return str(int(value))


def _bool_text(value: Any) -> str:
    return "true" if value else "false"


def _atom_converter(prop: model.Property) -> Callable[[Any], str]:
    if prop.edm_type == model.STRING:
        return xml_text
    if prop.edm_type == model.BOOLEAN:
        return _bool_text
    if prop.edm_type == model.DATETIME:
        return functools.partial(atom_datetime, precision=prop.precision)
    return _int_text


def _json_converter(prop: model.Property) -> Callable[[Any], str]:
    if prop.edm_type == model.STRING:
        return encode_basestring
    if prop.edm_type == model.BOOLEAN:
        return _bool_text
    if prop.edm_type == model.DATETIME:
        return json_datetime
    return _int_text


@dataclasses.dataclass(frozen=True)
class _Plan:
    """What serializing one entity set with one ``$select`` needs, computed once and cached.

    ``atom`` rows are (name, to_text, open tag, close tag, empty element, null element);
    ``json`` rows are (name, to_token, ``,"Name":``). Plain tuples keep the hot loop cheap.
    """

    entity_set: model.EntitySet
    key: Callable[[Entity], str]  # the key predicate of an entity, "(JobName='…',JobRunCount='…')"
    category_and_link: str  # '<category …/><link href="' — the href and title follow per entry
    atom: tuple[tuple[str, Callable[[Any], str], str, str, str, str], ...]
    json: tuple[tuple[str, Callable[[Any], str], str], ...]
    #: (name, target set, deferred link wanted): every navigation of the type. An entity that holds a list
    #: under a navigation's name has it expanded inline; otherwise the link is deferred, if *select* wants it.
    navs: tuple[tuple[str, model.EntitySet, bool], ...] = ()


def _null_element(name: str) -> str:
    return f'<d:{name} m:null="true"/>'


@functools.lru_cache(maxsize=256)
def _plan(entity_set: model.EntitySet, select: frozenset[str] | None) -> _Plan:
    entity_type = entity_set.entity_type
    nav_names = {n.name for n in entity_type.navigations}
    props = entity_type.select(None if select is None else [name for name in select if name not in nav_names])
    navs = tuple(
        (n.name, model.SERVICE.navigation_target(n), select is None or n.name in select)
        for n in entity_type.navigations
    )
    atom = tuple(
        (p.name, _atom_converter(p), f"<d:{p.name}>", f"</d:{p.name}>", f"<d:{p.name}/>", _null_element(p.name))
        for p in props
    )
    json_rows = tuple((p.name, _json_converter(p), f',"{p.name}":') for p in props)
    category = f'<category term="{entity_type.qualified_name}" scheme="{SCHEME}"/><link href="'
    return _Plan(entity_set, key_formatter(entity_type), category, atom, json_rows, navs)


def _get_plan(entity_set: model.EntitySet, select: Iterable[str] | None) -> _Plan:
    return _plan(entity_set, None if select is None else frozenset(select))


def _append_atom_entry(parts: list[str], plan: _Plan, entity: Entity, base: str, stamp: str, *, in_feed: bool) -> None:
    """Append one ``<entry>`` without its opening tag: id, title, updated, category, link, content."""
    path = plan.entity_set.name + plan.key(entity)
    parts += (
        "<id>", base, path, '</id><title type="text">', path, "</title><updated>", stamp, "</updated>",
        plan.category_and_link, path, '" rel="edit" title="', plan.entity_set.entity_type.name, '"/>',
    )  # fmt: skip
    for nav, target, wanted in plan.navs:
        expanded = entity.get(nav)
        if expanded is not None or wanted:
            parts += ('<link href="', path, "/", nav, '" rel="', RELATED, nav, _FEED_LINK_TYPE, nav, '"')
            if expanded is None:
                parts.append("/>")
            else:
                parts.append("><m:inline>")
                child = _get_plan(target, None)
                _append_atom_feed_body(parts, child, expanded, base, f"{path}/{nav}", stamp, inline=True)
                parts.append("</m:inline></link>")
    parts += ('<content type="application/xml">', _PROPERTIES_IN_FEED if in_feed else "<m:properties>")
    for name, to_text, open_tag, close_tag, empty, null in plan.atom:
        value = entity[name]
        if value is None:
            parts.append(null)
        else:
            text = to_text(value)
            parts.append(f"{open_tag}{text}{close_tag}" if text else empty)
    parts.append(_CONTENT_END)


def entry_atom(
    entity_set: model.EntitySet,
    entity: Entity,
    base_url: str,
    *,
    select: Sequence[str] | None = None,
    updated: dt.datetime | None = None,
) -> bytes:
    """One entity as an Atom ``<entry>`` document (a single read or a function-import result).

    *updated* is the ``<updated>`` time; Gateway writes the time of the response, the default.
    """
    plan = _get_plan(entity_set, select)
    base = xml_attr(base_url)
    stamp = updated_stamp(updated)
    parts = [_XML_DECLARATION, "<entry ", _NAMESPACES, ' xml:base="', base, '">']
    _append_atom_entry(parts, plan, entity, base, stamp, in_feed=False)
    return "".join(parts).encode()


def feed_atom(
    entity_set: model.EntitySet,
    entities: Iterable[Entity],
    base_url: str,
    *,
    path: str | None = None,
    select: Sequence[str] | None = None,
    count: int | None = None,
    updated: dt.datetime | None = None,
) -> bytes:
    """Entities as an Atom ``<feed>`` document.

    *path* names the feed in its ``<id>``, ``<title>`` and self link: the entity
    set by default (``JobTemplateSet``, as captured). For a collection-returning
    function import pass its name (``JobinfoGet``): no capture of such a feed
    exists, and this is what the request path is. *count* (``$inlinecount=allpages``)
    adds ``<m:count>`` after the self link.
    """
    plan = _get_plan(entity_set, select)
    base = xml_attr(base_url)
    parts = [_XML_DECLARATION, "<feed ", _NAMESPACES, ' xml:base="', base, '">']
    _append_atom_feed_body(parts, plan, entities, base, path or entity_set.name, updated_stamp(updated), count)
    return "".join(parts).encode()


def _append_atom_feed_body(
    parts: list[str],
    plan: _Plan,
    entities: Iterable[Entity],
    base: str,
    path: str,
    stamp: str,
    count: int | None = None,
    *,
    inline: bool = False,
) -> None:
    """Append a feed after its opening tag: id, title, updated, author, self link, count, entries, ``</feed>``.

    An expanded navigation is such a feed inside ``<m:inline>``, opened here with a bare ``<feed>``
    (it inherits the document's namespaces and ``xml:base``); its title is the navigation's name.
    """
    name = xml_attr(path)
    title = xml_attr(path.rsplit("/", 1)[-1]) if ")/" in path else name
    if inline:
        parts.append("<feed>")
    parts += (
        "<id>", base, name, '</id><title type="text">', title, "</title><updated>", stamp,
        "</updated><author><name/></author>", '<link href="', name, '" rel="self" title="', title, '"/>',
    )  # fmt: skip
    if count is not None:
        parts.append(f"<m:count>{int(count)}</m:count>")
    for entity in entities:
        parts.append("<entry>")
        _append_atom_entry(parts, plan, entity, base, stamp, in_feed=True)
    parts.append("</feed>")


def _append_json_object(parts: list[str], plan: _Plan, entity: Entity, base_url: str) -> None:
    """Append one entity as a JSON object with its ``__metadata``."""
    entity_type = plan.entity_set.entity_type
    uri = encode_basestring(base_url + plan.entity_set.name + plan.key(entity))
    parts += ('{"__metadata":{"id":', uri, ',"uri":', uri, ',"type":"', entity_type.qualified_name, '"}')
    for name, to_token, key in plan.json:
        value = entity[name]
        parts += (key, "null" if value is None else to_token(value))
    for nav, target, wanted in plan.navs:
        inline = entity.get(nav)
        if inline is not None:
            parts += (',"', nav, '":{"results":[')
            child_plan = _get_plan(target, None)
            for index, child in enumerate(inline):
                if index:
                    parts.append(",")
                _append_json_object(parts, child_plan, child, base_url)
            parts.append("]}")
        elif wanted:
            link = encode_basestring(f"{base_url}{plan.entity_set.name}{plan.key(entity)}/{nav}")
            parts += (',"', nav, '":{"__deferred":{"uri":', link, "}}")
    parts.append("}")


def entry_json(
    entity_set: model.EntitySet, entity: Entity, base_url: str, *, select: Sequence[str] | None = None
) -> bytes:
    """One entity in verbose JSON: ``{"d": {"__metadata": {…}, "Name": value, …}}``."""
    parts = ['{"d":']
    _append_json_object(parts, _get_plan(entity_set, select), entity, base_url)
    parts.append("}")
    return "".join(parts).encode()


def feed_json(
    entity_set: model.EntitySet,
    entities: Iterable[Entity],
    base_url: str,
    *,
    select: Sequence[str] | None = None,
    count: int | None = None,
) -> bytes:
    """Entities in verbose JSON: ``{"d": {"results": […]}}``, with ``"__count": "N"`` first when *count* is given.

    ``__count`` is a string, and comes before ``results`` as in recorded Gateway responses.
    """
    plan = _get_plan(entity_set, select)
    parts = ['{"d":{']
    if count is not None:
        parts.append(f'"__count":"{int(count)}",')
    parts.append('"results":[')
    for index, entity in enumerate(entities):
        if index:
            parts.append(",")
        _append_json_object(parts, plan, entity, base_url)
    parts.append("]}}")
    return "".join(parts).encode()
