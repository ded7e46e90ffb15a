"""Reading entity sets: a collection, an entity by key, a navigation from it, and ``$expand``.

What each declared entity set answers to GET:

* **JobTemplateSet**, **JobStatusInfoSet**: their rows.
* **JobTemplateSequenceSet**, **JobTemplateParameterSet**: every template's
  steps and declared parameters, also as JobTemplate's navigations and
  JobTemplateSequence's (:mod:`.templatesets`); JobTemplate's groups and
  sections and a parameter's value data answer empty feeds.
* **JobHeaderSet**: the jobs the caller may see (:mod:`.jobheaders`); by key
  the job, 404 for one the caller may not see exactly as for one that does
  not exist. **JobStepSet**, **JobStepLogInfoSet**, **JobLogMessageSet** by key
  (every key starts with the job's) and as navigations from a JobHeader;
  read as whole sets, without a job, they answer an empty feed.
* Every other set answers an empty feed, and 404 for any key: those appjobs
  has no counterpart of (the application log, parameter groups and sections)
  and the homes of function-import results, which SAP fills only as answers
  of their function imports.

``$expand`` paths are checked segment by segment against the model: an
unknown one is a 400 naming it. A navigation URL with an unknown segment
never gets here (:mod:`.targets` answers 404 naming it).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from appjobs import errors, models
from appjobs.engine import JobService
from appjobs.odata import entities, jobtree, keys, model, query
from appjobs.odata.values import key_formatter
from appjobs.server import jobheaders, templatesets
from appjobs.server.errors import ResourceNotFound
from appjobs.server.security import Caller
from appjobs.server.targets import Target

Entity = dict[str, Any]
Expand = Mapping[str, "Expand"]  # navigation name -> what to expand below it

JOB_SETS = (model.JOB_HEADER_SET, model.JOB_STEP_SET, model.JOB_STEP_LOG_INFO_SET, model.JOB_LOG_MESSAGE_SET)
_LOG_SETS = (model.JOB_STEP_LOG_INFO_SET, model.JOB_LOG_MESSAGE_SET)
_NAV_CHILDREN = {
    "JobStepSet": lambda tree, parent: tree.step_entities(),
    "JobStepLogInfoSet": lambda tree, parent: tree.log_info_entities(parent["StepNumber"]),
    "JobLogMessageSet": lambda tree, parent: tree.message_entities(parent["StepNumber"]),
}


@dataclasses.dataclass(frozen=True)
class Result:
    """What a read found: one entity, or a feed (its page, the ``$inlinecount`` total, its path)."""

    entity_set: model.EntitySet
    options: query.QueryOptions
    entity: Entity | None = None
    page: Sequence[Entity] = ()
    count: int | None = None
    path: str = ""


def final_set(target: Target) -> model.EntitySet | None:
    """The set whose type the request's last segment names (the navigations' end), or None for no set."""
    entity_set = model.SERVICE.find_entity_set(target.resource)
    for name, _key in target.navigation:
        assert entity_set is not None  # targets.parse_target checked every segment
        entity_set = model.SERVICE.navigation_target(entity_set.entity_type.find_navigation(name))  # type: ignore[arg-type]
    return entity_set


def read(service: JobService, target: Target, params: Sequence[tuple[str, str]], caller: Caller) -> Result:
    """Answer GET *target* (an entity set, maybe keyed, maybe navigated) with query *params*."""
    start = model.SERVICE.find_entity_set(target.resource)
    end = final_set(target)
    assert start is not None
    assert end is not None
    end_type = end.entity_type
    options = query.parse_query(
        params, {p.name: p.edm_type for p in end_type.properties}, navigations=[n.name for n in end_type.navigations]
    )
    expand = expand_tree(end_type, options.expand)
    if start in JOB_SETS:
        return _job_read(service, target, start, end, options, expand, caller)
    if start.name in templatesets.SETS:
        return _template_read(templatesets.Templates(service), target, start, end, options, expand)
    rows = _rows(start)
    if target.key is None:
        return _feed(end, options, [_expanded_empty(row, expand) for row in rows])
    found = _match(start, rows, parse_key(start, target.key))
    if not target.navigation:
        return Result(end, options, entity=_expanded_empty(found, expand))
    # Outside the job and template sets every navigation leads to an empty feed, where no key finds anything.
    name, nav_key = target.navigation[0]
    if nav_key is not None:
        raise ResourceNotFound(name)
    path = f"{start.name}{_key_text(start, found)}/{name}"
    return _feed(end, options, [], path=path)


def _rows(entity_set: model.EntitySet) -> list[Entity]:
    if entity_set is model.JOB_STATUS_INFO_SET:
        return entities.status_info_entities()
    return []  # the sets appjobs has no counterpart of, and the homes of function-import results


def _template_read(
    templates: templatesets.Templates,
    target: Target,
    start: model.EntitySet,
    end: model.EntitySet,
    options: query.QueryOptions,
    expand: Expand,
) -> Result:
    """A read that starts at JobTemplateSet, JobTemplateSequenceSet or JobTemplateParameterSet."""
    rows = templates.rows(start)
    if target.key is None:
        return _feed(end, options, [templates.expand(start, row, expand) for row in rows])
    current_set, current = start, _match(start, rows, parse_key(start, target.key))
    path = current_set.name + _key_text(current_set, current)
    for name, nav_key in target.navigation:
        children = templates.children(current_set, current, name)
        current_set = model.SERVICE.navigation_target(current_set.entity_type.find_navigation(name))  # type: ignore[arg-type]
        if nav_key is None:
            rows = [templates.expand(current_set, child, expand) for child in children]
            return _feed(current_set, options, rows, path=f"{path}/{name}")
        current = _match(current_set, children, parse_key(current_set, nav_key))
        path = current_set.name + _key_text(current_set, current)
    return Result(end, options, entity=templates.expand(end, current, expand))


def parse_key(entity_set: model.EntitySet, key_text: str) -> dict[str, object]:
    entity_type = entity_set.entity_type
    key_types = {name: entity_type.get_property(name).edm_type for name in entity_type.keys}
    return keys.parse_key_predicate(key_text, key_types)


def expand_tree(entity_type: model.EntityType, paths: Sequence[str]) -> dict[str, Any]:
    """``$expand`` paths as a tree of navigation names; a segment the type before it lacks is a 400 naming it."""
    tree: dict[str, Any] = {}
    for path in paths:
        node, current = tree, entity_type
        for segment in path.split("/"):
            navigation = current.find_navigation(segment)
            if navigation is None:
                raise errors.InvalidInput(f"$expand: '{segment}' is not a navigation property of {current.name}")
            node = node.setdefault(segment, {})
            current = model.SERVICE.navigation_target(navigation).entity_type
    return tree


def _expanded_empty(entity: Entity, expand: Expand) -> Entity:
    """*entity* with every expanded navigation empty (outside the job sets appjobs fills none)."""
    return {**entity, **{name: [] for name in expand}} if expand else entity


def _feed(entity_set: model.EntitySet, options: query.QueryOptions, rows: Sequence[Entity], path: str = "") -> Result:
    page, count = query.apply(options, rows)
    return Result(entity_set, options, page=page, count=count if options.inlinecount else None, path=path)


# --- the job sets -------------------------------------------------------------------------------


def _job_read(
    service: JobService,
    target: Target,
    start: model.EntitySet,
    end: model.EntitySet,
    options: query.QueryOptions,
    expand: Expand,
    caller: Caller,
) -> Result:
    if target.key is None:
        if start is not model.JOB_HEADER_SET:
            return _feed(end, options, [])
        trees, count = jobheaders.header_page(service, caller, options)
        if expand:
            for tree in trees:
                jobheaders.fill(service, tree)
        headers = [_expand(tree, model.JOB_HEADER_SET, tree.header(), expand) for tree in trees]
        return Result(end, options, page=headers, count=count)
    wanted = parse_key(start, target.key)
    tree = _load(service, start, end, wanted, expand, caller)
    current_set, current = start, _entity_by_key(tree, start, wanted)
    path = current_set.name + _key_text(current_set, current)
    for name, nav_key in target.navigation:
        children = _NAV_CHILDREN[name](tree, current)
        current_set = model.SERVICE.navigation_target(current_set.entity_type.find_navigation(name))  # type: ignore[arg-type]
        if nav_key is None:
            rows = [_expand(tree, current_set, child, expand) for child in children]
            return _feed(current_set, options, rows, path=f"{path}/{name}")
        current = _match(current_set, children, parse_key(current_set, nav_key))
        path = current_set.name + _key_text(current_set, current)
    return Result(end, options, entity=_expand(tree, end, current, expand))


def _load(
    service: JobService,
    start: model.EntitySet,
    end: model.EntitySet,
    wanted: Mapping[str, object],
    expand: Expand,
    caller: Caller,
) -> jobtree.JobTree:
    """The job tree the request needs: steps beyond the header, the log for anything at or below a step."""
    key = models.JobKey(str(wanted["JobName"]), str(wanted["JobRunCount"]))
    deep = start is not model.JOB_HEADER_SET or end is not model.JOB_HEADER_SET or bool(expand)
    try:
        return jobheaders.load_tree(service, key, caller, steps=deep, log=deep)
    except errors.JobNotFound:
        raise ResourceNotFound(start.name) from None


def _entity_by_key(tree: jobtree.JobTree, entity_set: model.EntitySet, wanted: Mapping[str, object]) -> Entity:
    if entity_set is model.JOB_HEADER_SET:
        return tree.header()
    step = wanted["StepNumber"]
    candidates = {
        model.JOB_STEP_SET.name: tree.step_entities,
        model.JOB_STEP_LOG_INFO_SET.name: lambda: tree.log_info_entities(step),  # type: ignore[arg-type]
        model.JOB_LOG_MESSAGE_SET.name: lambda: tree.message_entities(step),  # type: ignore[arg-type]
    }[entity_set.name]()
    return _match(entity_set, candidates, wanted)


def _match(entity_set: model.EntitySet, rows: Sequence[Entity], wanted: Mapping[str, object]) -> Entity:
    found = next((row for row in rows if all(row[k] == v for k, v in wanted.items())), None)
    if found is None:
        raise ResourceNotFound(entity_set.name)
    return found


def _expand(tree: jobtree.JobTree, entity_set: model.EntitySet, entity: Entity, expand: Expand) -> Entity:
    """*entity* with the navigations *expand* names filled in, recursively."""
    if not expand:
        return entity
    result = dict(entity)
    for name, below in expand.items():
        navigation = entity_set.entity_type.find_navigation(name)
        target = model.SERVICE.navigation_target(navigation)  # type: ignore[arg-type]
        result[name] = [_expand(tree, target, child, below) for child in _NAV_CHILDREN[name](tree, entity)]
    return result


def _key_text(entity_set: model.EntitySet, entity: Entity) -> str:
    return key_formatter(entity_set.entity_type)(entity)
