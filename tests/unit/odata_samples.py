"""Entities and property types shared by the OData query and $filter tests: a part of the reference model."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

from hypothesis import settings

from appjobs.odata.filter import parse_filter
from appjobs.odata.query import matches

UTC = dt.UTC
# A part of JobTemplate and JobHeader (sap-service-facts.md 2.2), enough types to exercise every rule.
PROPERTIES = {
    "JobTemplateName": "Edm.String",
    "JobTemplateVersion": "Edm.String",
    "JobTemplateText": "Edm.String",
    "JobTemplateParameterName": "Edm.String",
    "JobPlannedStartDateTime": "Edm.String",
    "SupportsTestMode": "Edm.Boolean",
    "JobTemplateStepCount": "Edm.Int32",
    "ReturnCode": "Edm.Int16",
    "CreationDateTime": "Edm.DateTime",
    "LastChangedTime": "Edm.Time",
}
NAVIGATIONS = ("JobStepSet", "JobTemplateParameterSet")
TEMPLATES = [
    {
        "JobTemplateName": "/IBP/CREATE_TIME_PERIODS",
        "JobTemplateText": "Create Time Periods for Time Profiles",
        "SupportsTestMode": False,
        "JobTemplateStepCount": 1,
        "CreationDateTime": dt.datetime(2015, 9, 1, 15, 42, 36, tzinfo=UTC),
    },
    {
        "JobTemplateName": "/IBP/LOG_DELETION",
        "JobTemplateText": "Delete Logs",
        "SupportsTestMode": True,
        "JobTemplateStepCount": 2,
        "CreationDateTime": dt.datetime(2016, 1, 1, tzinfo=UTC),
    },
    {
        "JobTemplateName": "Z7ILD5Y5ARYPNRMFW7LYMT557IA",
        "JobTemplateText": "Nightly load O'Brien",
        "SupportsTestMode": None,
        "JobTemplateStepCount": 3,
        "CreationDateTime": None,
    },
]
FAST = settings(deadline=None)
FUZZ = settings(max_examples=300, deadline=dt.timedelta(seconds=2))


def names(entities: Iterable[Mapping[str, object]]) -> list[object]:
    """The template names of *entities*, in order."""
    return [entity["JobTemplateName"] for entity in entities]


def where(text: str) -> list[object]:
    """The names of the templates that $filter *text* selects."""
    node = parse_filter(text, PROPERTIES)
    return [entity["JobTemplateName"] for entity in TEMPLATES if matches(node, entity)]
