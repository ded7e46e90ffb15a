"""What a request under the service root asks for, read from the raw request path.

The path must be read raw (before percent-decoding): a key predicate such as
``JobTemplateSet(JobTemplateName='%2FIBP%2FX',JobTemplateVersion='0')`` may
hold an encoded ``/`` that would otherwise split a segment. So the path is
split first (at slashes outside key predicates), and each piece decoded after::

    >>> parse_target("/sap/opu/odata/SAP/BC_EXT_APPJOB_MANAGEMENT;v=2/JobStatusGet")
    Target(root='/sap/opu/odata/SAP/BC_EXT_APPJOB_MANAGEMENT;v=2/', resource='JobStatusGet', key=None, navigation=())

Navigation segments follow an entity's key; each must be a navigation
property of the type before it (checked here against the model, so that a
wrong one is a 404 naming it), and may carry a key predicate of its own::

    …/JobHeaderSet(JobName='…',JobRunCount='…')/JobStepSet       navigation=(('JobStepSet', None),)
    …/JobStepLogInfoSet(…)/JobLogMessageSet('…')                 navigation=(('JobLogMessageSet', "'…'"),)

The service answers at ``/sap/opu/odata/sap/BC_EXT_APPJOB_MANAGEMENT;v=0002``
and at every spelling real clients use: ``;v=2``, no version at all (as the
guide's samples write it), an upper-case ``/SAP/``, with or without a
trailing slash (also after a function import, as SAP's Cloud SDK sends
``HEAD …/JobSchedule/`` to fetch a CSRF token).
"""

from __future__ import annotations

import dataclasses
import functools
import re
from urllib.parse import unquote

from appjobs.odata import model
from appjobs.server.errors import ResourceNotFound

SERVICE_NAME = "BC_EXT_APPJOB_MANAGEMENT"
ODATA_PREFIX = "/sap/opu/odata/"
# The version is optional: SAP Gateway serves a service named without ";v=" as well (as its version 1;
# we have one version), and the guide's own samples leave it out.
_ROOT_RE = re.compile(rf"^/sap/opu/odata/(?:sap|SAP)/{SERVICE_NAME}(?:;v=(?:0002|2))?(?=/|$)")
_SEGMENT_RE = re.compile(r"^(?P<name>[^()]*)(?:\((?P<key>.*)\))?$", re.DOTALL)

_ENCODED_SLASH = re.compile("%2f", re.IGNORECASE)
_SLASH = "\x00"  # stands in for an encoded slash while the path is split; a URL cannot carry it raw

SERVICE_DOCUMENT = ""
METADATA = "$metadata"


@dataclasses.dataclass(frozen=True)
class Target:
    """The service root as the client spelled it, the resource named after it, and its key predicate.

    *resource* is ``""`` for the service document and ``"$metadata"`` for the
    metadata; *key* is the decoded text between the parentheses, if any.
    """

    root: str
    resource: str
    key: str | None = None
    navigation: tuple[tuple[str, str | None], ...] = ()  #: (navigation property, key predicate) after the key


@functools.lru_cache(maxsize=1024)
def parse_target(raw_path: str) -> Target:
    """The :class:`Target` of *raw_path*; :class:`ResourceNotFound` when it names nothing we serve.

    Remembered per path: clients ask for the same few paths again and again
    (the query string is not part of *raw_path*), and a Target is immutable.
    """
    root = _ROOT_RE.match(raw_path)
    if root is None:
        raise ResourceNotFound(_service_segment(raw_path))
    rest = _decode_keeping_slashes(raw_path[root.end() :])
    segments = [piece.replace(_SLASH, "/") for piece in split_segments(rest[1:])] if rest else []
    if segments and segments[-1] == "":
        segments.pop()  # one trailing slash is how some clients spell the resource
    base = root.group(0) + "/"
    if not segments:
        return Target(base, SERVICE_DOCUMENT)
    name, key = _segment(segments[0])
    return Target(base, name, key, _navigation(name, key, segments[1:]))


def _segment(segment: str) -> tuple[str, str | None]:
    match = _SEGMENT_RE.match(segment)
    if match is None:
        raise ResourceNotFound(segment)
    return match.group("name"), match.group("key")


def _navigation(resource: str, key: str | None, segments: list[str]) -> tuple[tuple[str, str | None], ...]:
    """The navigation segments after *resource*, each a navigation property of the type before it."""
    if not segments:
        return ()
    entity_set = model.SERVICE.find_entity_set(resource)
    steps = []
    for segment in segments:
        name, nav_key = _segment(segment)
        navigation = None if entity_set is None or key is None else entity_set.entity_type.find_navigation(name)
        if navigation is None:
            raise ResourceNotFound(name)
        entity_set = model.SERVICE.navigation_target(navigation)
        steps.append((name, nav_key))
        key = nav_key
    return tuple(steps)


def _decode_keeping_slashes(raw: str) -> str:
    """Percent-decode *raw*, except that an encoded slash becomes :data:`_SLASH`, not a separator.

    Clients encode differently: SAP's ids encode the slashes in a key
    (``'%2FIBP%2FX'``), pyodata encodes the parentheses and quotes but not
    the slashes (``%28JobTemplateName%3D%27/APPJOBS/X%27…``).
    """
    if _SLASH in unquote(raw):
        raise ResourceNotFound(unquote(raw).replace(_SLASH, ""))
    return unquote(_ENCODED_SLASH.sub(_SLASH, raw))


def split_segments(path: str) -> list[str]:
    """*path* split at each ``/`` that is not inside a key predicate's quotes.

    pyodata, among others, sends ``JobTemplateSet(JobTemplateName='/APPJOBS/X',…)``
    with the slashes unencoded; they belong to the key, not to the path.
    """
    segments, start, depth, quoted = [], 0, 0, False
    for index, char in enumerate(path):
        if char == "'" and depth:
            quoted = not quoted  # '' (an escaped quote) toggles twice
        elif char == "(" and not quoted:
            depth += 1
        elif char == ")" and not quoted:
            depth = max(depth - 1, 0)
        elif char == "/" and not depth:
            segments.append(path[start:index])
            start = index + 1
    segments.append(path[start:])
    return segments


def _service_segment(raw_path: str) -> str:
    """The segment a 404 names when the path does not reach our service."""
    rest = raw_path[len(ODATA_PREFIX) :] if raw_path.startswith(ODATA_PREFIX) else raw_path.lstrip("/")
    parts = [p for p in rest.split("/") if p]
    return unquote(parts[1] if len(parts) > 1 else (parts[0] if parts else ""))
