"""JobTemplate's navigations and the template sets: JobTemplateSequenceSet and JobTemplateParameterSet.

A template's steps are SAP's sequences (JobSequenceName ``0001``…) and each
parameter a step declares is a JobTemplateParameter
(:func:`appjobs.odata.paramentities.parameter_entities`). They read

* as navigations: ``JobTemplateSet(…)/JobTemplateSequenceSet``,
  ``JobTemplateSet(…)/JobTemplateParameterSet`` (every step's parameters) and
  ``JobTemplateSequenceSet(…)/JobTemplateParameterSet`` (that step's), or
  expanded with ``$expand``;
* as whole sets, every template's rows: templates are visible to every
  logged-on user, as JobTemplateSet is.

The template's other navigations (parameter groups, sections, value data)
have no counterpart and answer empty feeds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from appjobs import errors, models
from appjobs.engine import JobService
from appjobs.odata import entities, model, paramentities

Entity = dict[str, Any]
Expand = Mapping[str, "Expand"]

#: The sets read here, each with what one template contributes to it.
SETS = {
    model.JOB_TEMPLATE_SET.name: lambda t: [entities.template_entity(t)],
    model.JOB_TEMPLATE_SEQUENCE_SET.name: paramentities.sequence_entities,
    model.JOB_TEMPLATE_PARAMETER_SET.name: paramentities.parameter_entities,
}


class Templates:
    """The templates one request reads, each looked up once (None for a name that does not exist)."""

    def __init__(self, service: JobService) -> None:
        self.service = service
        self._by_name: dict[str, models.Template | None] = {}

    def rows(self, entity_set: model.EntitySet) -> list[Entity]:
        """Every template's rows of *entity_set* (one of :data:`SETS`)."""
        templates = self.service.templates()
        self._by_name.update((t.name, t) for t in templates)
        return [row for t in templates for row in SETS[entity_set.name](t)]

    def children(self, entity_set: model.EntitySet, entity: Entity, navigation: str) -> list[Entity]:
        """The entities *navigation* leads to from *entity* of *entity_set*; [] for the navigations without meaning."""
        template = self._template(str(entity.get("JobTemplateName", "")))
        if template is None:
            return []
        if entity_set is model.JOB_TEMPLATE_SET and navigation == "JobTemplateSequenceSet":
            return paramentities.sequence_entities(template)
        if navigation != "JobTemplateParameterSet":
            return []
        found = paramentities.parameter_entities(template)
        if entity_set is model.JOB_TEMPLATE_SEQUENCE_SET:
            return [p for p in found if p["JobSequenceName"] == entity["JobSequenceName"]]
        return found if entity_set is model.JOB_TEMPLATE_SET else []

    def expand(self, entity_set: model.EntitySet, entity: Entity, expand: Expand) -> Entity:
        """*entity* with the navigations *expand* names filled in, recursively."""
        if not expand:
            return entity
        result = dict(entity)
        for name, below in expand.items():
            navigation = entity_set.entity_type.find_navigation(name)
            target = model.SERVICE.navigation_target(navigation)  # type: ignore[arg-type]
            result[name] = [self.expand(target, child, below) for child in self.children(entity_set, entity, name)]
        return result

    def _template(self, name: str) -> models.Template | None:
        if name not in self._by_name:
            try:
                self._by_name[name] = self.service.template(name)
            except errors.TemplateNotFound:
                self._by_name[name] = None
        return self._by_name[name]
