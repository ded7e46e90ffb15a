"""The EDM of BC_EXT_APPJOB_MANAGEMENT, its $metadata document and its service document."""

from __future__ import annotations

import json
import logging
import warnings

import defusedxml.ElementTree as SafeET
import pyodata.v2.model
import pytest

from appjobs import errors
from appjobs.odata import metadata, model

EDMX = "{http://schemas.microsoft.com/ado/2007/06/edmx}"
EDM = "{http://schemas.microsoft.com/ado/2008/09/edm}"
M = "{http://schemas.microsoft.com/ado/2007/08/dataservices/metadata}"
SAP = "{http://www.sap.com/Protocols/SAPData}"
APP = "{http://www.w3.org/2007/app}"
ATOM = "{http://www.w3.org/2005/Atom}"
XML_NS = "{http://www.w3.org/XML/1998/namespace}"

#: Function imports as SAP's generated proxy declares them: method, parameters (name, type, MaxLength) in order.
EXPECTED_FUNCTIONS = {
    "JobinfoGet": ("GET", [("JobName", "Edm.String", 32), ("JobRunCount", "Edm.String", 8)]),
    "JobAbort": ("POST", [("JobRunCount", "Edm.String", 14), ("JobName", "Edm.String", 32)]),
    "JobCancel": ("POST", [("JobRunCount", "Edm.String", 14), ("JobName", "Edm.String", 32)]),
    "JobListGet": (
        "GET",
        [
            ("JobText", "Edm.String", 120),
            ("CreationTimeFrom", "Edm.DateTime", None),
            ("CreationTimeTo", "Edm.DateTime", None),
            ("TemplateName", "Edm.String", 40),
            ("JobCreator", "Edm.String", 12),
            ("Report", "Edm.String", 40),
            ("Variant", "Edm.String", 14),
            ("JobName", "Edm.String", 32),
        ],
    ),
    "JobSchedule": (
        "POST",
        [
            ("JobUserID", "Edm.String", 12),
            ("JobUserName", "Edm.String", 40),
            ("JobText", "Edm.String", 120),
            ("JobTemplateName", "Edm.String", 40),
            ("JobParameterValues", "Edm.String", None),
            ("TestModeInd", "Edm.Boolean", None),
            ("JobUser", "Edm.String", 40),
            ("JobParameterValuesSimple", "Edm.String", None),
        ],
    ),
    "JobStatusGet": ("GET", [("JobName", "Edm.String", None), ("JobRunCount", "Edm.String", None)]),
}

EXPECTED_RETURNS = {
    "JobinfoGet": ("Collection(BC_EXT_APPJOB_MANAGEMENT.Jobinfo)", "JobinfoSet"),
    "JobAbort": ("BC_EXT_APPJOB_MANAGEMENT.FuncImpReturn", "FuncImpReturnCollection"),
    "JobCancel": ("BC_EXT_APPJOB_MANAGEMENT.FuncImpReturn", "FuncImpReturnCollection"),
    "JobListGet": ("Collection(BC_EXT_APPJOB_MANAGEMENT.Joblist)", "JoblistSet"),
    "JobSchedule": ("BC_EXT_APPJOB_MANAGEMENT.JobScheduleStatus", "JobScheduleStatusCollection"),
    "JobStatusGet": ("BC_EXT_APPJOB_MANAGEMENT.JobScheduleStatus", "JobScheduleStatusCollection"),
}

#: The JobTemplate properties of the IBP guide's 2017 Atom capture, in its order.
GUIDE_TEMPLATE_ORDER = [
    "JobTemplateName",
    "JobTemplateVersion",
    "JobTemplateStepCount",
    "JobPeriodicGranularity",
    "JobReportName",
    "JobUserName",
    "JobPeriodicValue",
    "JobTemplateText",
    "CreationDateTime",
    "CreationUserName",
    "LastChangeDateTime",
    "LastChangeUserName",
    "SupportsTestModeInd",
]


def _schema_element():
    root = SafeET.fromstring(metadata.metadata_document())
    return root.find(f"{EDMX}DataServices/{EDM}Schema")


def _pyodata_schema() -> pyodata.v2.model.Schema:
    return pyodata.v2.model.MetadataBuilder(metadata.metadata_document()).build()


def test_metadata_is_edmx_1_with_data_service_version_2() -> None:
    """$metadata is an EDMX 1.0 document declaring DataServiceVersion 2.0 and the service's namespace."""
    root = SafeET.fromstring(metadata.metadata_document())
    assert root.tag == f"{EDMX}Edmx"
    assert root.get("Version") == "1.0"
    services = root.find(f"{EDMX}DataServices")
    assert services.get(f"{M}DataServiceVersion") == "2.0"
    schema = services.find(f"{EDM}Schema")
    assert schema.get("Namespace") == "BC_EXT_APPJOB_MANAGEMENT"
    assert schema.get(f"{SAP}schema-version") == "1"


def test_metadata_starts_with_an_utf8_xml_declaration() -> None:
    """$metadata is UTF-8 bytes starting with the XML declaration Gateway writes."""
    assert metadata.metadata_document().startswith(b'<?xml version="1.0" encoding="utf-8"?><edmx:Edmx ')


def test_metadata_is_built_once() -> None:
    """Every call returns the same cached bytes object."""
    assert metadata.metadata_document() is metadata.metadata_document()


def test_pyodata_loads_metadata_without_warnings(caplog: pytest.LogCaptureFixture) -> None:
    """SAP's pyodata builds a model from our $metadata without a warning or a logged complaint."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with caplog.at_level(logging.WARNING):
            schema = _pyodata_schema()
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert {s.name for s in schema.entity_sets} == {s.name for s in model.SERVICE.entity_sets}


@pytest.mark.parametrize("name", sorted(EXPECTED_FUNCTIONS))
def test_pyodata_sees_function_import_methods_and_parameters(name: str) -> None:
    """pyodata reads each function import's HTTP method and its parameters in SAP's order, types and lengths."""
    function = _pyodata_schema().function_import(name)
    method, parameters = EXPECTED_FUNCTIONS[name]
    assert function.http_method == method
    seen = [(p.name, p.typ.name, int(p.max_length) if p.max_length else None) for p in function.parameters]
    assert seen == parameters


@pytest.mark.parametrize("name", sorted(EXPECTED_RETURNS))
def test_function_import_return_type_and_entity_set(name: str) -> None:
    """Each FunctionImport declares SAP's ReturnType and the entity set of its results."""
    container = _schema_element().find(f"{EDM}EntityContainer")
    element = container.find(f"{EDM}FunctionImport[@Name='{name}']")
    assert (element.get("ReturnType"), element.get("EntitySet")) == EXPECTED_RETURNS[name]
    assert element.get(f"{M}HttpMethod") == EXPECTED_FUNCTIONS[name][0]


def test_datetime_parameters_of_joblistget_have_precision_zero() -> None:
    """CreationTimeFrom and CreationTimeTo are Edm.DateTime with Precision 0."""
    container = _schema_element().find(f"{EDM}EntityContainer")
    for name in ("CreationTimeFrom", "CreationTimeTo"):
        parameter = container.find(f"{EDM}FunctionImport[@Name='JobListGet']/{EDM}Parameter[@Name='{name}']")
        assert parameter.get("Precision") == "0"
        assert parameter.get("Mode") == "In"


def test_entity_container_is_default_with_read_only_sets() -> None:
    """The container is the default one and every entity set is marked not creatable, updatable or deletable."""
    container = _schema_element().find(f"{EDM}EntityContainer")
    assert container.get("Name") == "BC_EXT_APPJOB_MANAGEMENT_Entities"
    assert container.get(f"{M}IsDefaultEntityContainer") == "true"
    sets = container.findall(f"{EDM}EntitySet")
    assert [s.get("Name") for s in sets] == [s.name for s in model.SERVICE.entity_sets]
    for element in sets:
        assert element.get("EntityType") == f"BC_EXT_APPJOB_MANAGEMENT.{_type_of(element)}"
        for flag in ("creatable", "updatable", "deletable"):
            assert element.get(f"{SAP}{flag}") == "false"


def _type_of(entity_set_element) -> str:
    return model.SERVICE.find_entity_set(entity_set_element.get("Name")).entity_type.name


def test_entity_types_declare_keys_and_facets_as_the_model() -> None:
    """Every property is written with the model's type, Nullable, MaxLength and Precision, keys in the Key element."""
    schema = _pyodata_schema()
    raw = _schema_element()
    for entity_type in model.SERVICE.entity_types:
        parsed = schema.entity_type(entity_type.name)
        assert [p.name for p in parsed.key_proprties] == list(entity_type.keys)
        assert [p.name for p in parsed.proprties()] == [p.name for p in entity_type.properties]
        for prop in entity_type.properties:
            seen = parsed.proprty(prop.name)
            assert seen.typ.name == prop.edm_type
            assert seen.nullable == prop.nullable
            assert (int(seen.max_length) if seen.max_length else None) == prop.max_length
            # pyodata reports a missing Precision as 0, so read the attribute itself
            element = raw.find(f"{EDM}EntityType[@Name='{entity_type.name}']/{EDM}Property[@Name='{prop.name}']")
            assert element.get("Precision") == (None if prop.precision is None else str(prop.precision))


def test_job_template_keeps_ibp_name_and_guide_order() -> None:
    """JobTemplate names its boolean SupportsTestModeInd and starts with the guide's 13 properties in order."""
    names = [p.get("Name") for p in _schema_element().findall(f"{EDM}EntityType[@Name='JobTemplate']/{EDM}Property")]
    assert names[:13] == GUIDE_TEMPLATE_ORDER
    assert len(names) == 24
    assert "SupportsTestMode" not in names


def test_datetime_precisions_follow_sap() -> None:
    """JobTemplate times have Precision 7 and job times Precision 0."""
    assert model.JOB_TEMPLATE.get_property("CreationDateTime").precision == 7
    assert model.JOBINFO.get_property("JobSdlDateTime").precision == 0
    assert model.JOBLIST.get_property("JobCreaDateTime").nullable is False


def test_select_keeps_model_order_and_rejects_unknown_names() -> None:
    """EntityType.select returns properties in $metadata order and refuses a name the type lacks."""
    chosen = model.JOB_SCHEDULE_STATUS.select(["ReturnCode", "JobName"])
    assert [p.name for p in chosen] == ["JobName", "ReturnCode"]
    assert model.JOB_SCHEDULE_STATUS.select(["*"]) == model.JOB_SCHEDULE_STATUS.properties
    with pytest.raises(errors.InvalidInput, match="Nope"):
        model.JOB_SCHEDULE_STATUS.select(["Nope"])


def test_lookups_are_case_sensitive() -> None:
    """Entity sets and function imports are found by their exact name only, as in Gateway."""
    assert model.SERVICE.find_entity_set("JobTemplateSet") is model.JOB_TEMPLATE_SET
    assert model.SERVICE.find_entity_set("jobtemplateset") is None
    assert model.SERVICE.find_function_import("JobStatusGet") is model.JOB_STATUS_GET
    assert model.SERVICE.find_function_import("jobstatusget") is None


def test_model_rejects_inconsistent_definitions() -> None:
    """A key that is not a non-nullable property, or a function import whose set holds another type, is refused."""
    with pytest.raises(ValueError, match="key"):
        model.EntityType("Broken", ("Missing",), (model.Property("A", model.STRING),))
    with pytest.raises(ValueError, match="holds another type"):
        model.FunctionImport("X", "GET", (), model.JOBINFO, model.JOBLIST_SET)


def test_service_document_lists_every_entity_set() -> None:
    """The AtomPub service document has one collection per entity set, with title and member title."""
    base = "https://host/sap/opu/odata/sap/BC_EXT_APPJOB_MANAGEMENT;v=0002/"
    root = SafeET.fromstring(metadata.service_document_xml(base))
    assert root.tag == f"{APP}service"
    assert root.get(f"{XML_NS}base") == base
    workspace = root.find(f"{APP}workspace")
    assert workspace.find(f"{ATOM}title").text == "Data"
    collections = workspace.findall(f"{APP}collection")
    assert [c.get("href") for c in collections] == [s.name for s in model.SERVICE.entity_sets]
    template_set = next(c for c in collections if c.get("href") == "JobTemplateSet")
    assert template_set.find(f"{ATOM}title").text == "JobTemplateSet"
    assert template_set.find(f"{SAP}member-title").text == "JobTemplate"
    links = {link.get("rel"): link.get("href") for link in root.findall(f"{ATOM}link")}
    assert links == {"self": base, "latest-version": base}


def test_service_document_escapes_the_base_url() -> None:
    """A base URL with XML-special characters still gives a well-formed service document."""
    base = 'https://host/a&b"c/'
    assert SafeET.fromstring(metadata.service_document_xml(base)).get(f"{XML_NS}base") == base


def test_service_document_json_lists_entity_set_names() -> None:
    """The JSON service document is {"d": {"EntitySets": [...]}} with every entity set name."""
    document = json.loads(metadata.service_document_json())
    assert document == {"d": {"EntitySets": [s.name for s in model.SERVICE.entity_sets]}}
