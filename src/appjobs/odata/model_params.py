"""The parameter types of BC_EXT_APPJOB_MANAGEMENT: parameter values, schedule checks, template parameters.

Declarations only, in the order of SAP's generated proxy (``shared/reference/sap-service-facts.md``
§2.2); :mod:`appjobs.odata.model` puts them into the service.
"""

from __future__ import annotations

from appjobs.odata.edm import BOOLEAN, INT32, EntityType, Navigation, Property
from appjobs.odata.edm import key_prop as _key
from appjobs.odata.edm import string_prop as _string

JOB_PARAM_VALUES = EntityType(
    "JobParamValues",
    ("ParameterValues",),
    (_key("ParameterValues"),),
)

JOB_PARAM_VALUES_STRUCT = EntityType(
    "JobParamValuesStruct",
    ("StepNr", "JobParameterName"),
    (
        _key("StepNr", INT32),
        _key("JobParameterName", max_length=38),
        _string("Sign", 1, nullable=False),
        _string("Option", 2, nullable=False),
        _string("Low", 255, nullable=False),
        _string("High", 255, nullable=False),
    ),
)

JOB_SCHEDULE_CHECK = EntityType(
    "JobScheduleCheck",
    ("SuccessfulInd",),
    (
        _string("JobParameterValues", nullable=False),
        _key("SuccessfulInd", BOOLEAN),
        Property("ChangedInd", BOOLEAN, nullable=False),
        _string("DynamicProperties"),
        _string("ErrMessages", nullable=False),
    ),
)

JOB_TEMPLATE_PARAMETER = EntityType(
    "JobTemplateParameter",
    ("JobTemplateName", "JobTemplateVersion", "JobTemplateParameterName"),
    (
        _string("BasicJobCatalogEntryName", 40, nullable=False),
        _string("JobTempParamHasVhInd", 1, nullable=False),
        _key("JobTemplateName", max_length=40),
        _string("JobTempParamReadOnlyInd", 1, nullable=False),
        _string("JobTemplateParamGroupName", 10, nullable=False),
        _string("JobSequenceName", 30, nullable=False),
        _key("JobTemplateVersion", max_length=1),
        _key("JobTemplateParameterName", max_length=38),
        _string("JobTempParamHiddenInd", 1, nullable=False),
        _string("JobTempParamMandatoryInd", 1, nullable=False),
    ),
    (Navigation("JobTemplateParameterValueDataSet", "JobTemplateParameterValueData"),),
)

JOB_TEMPLATE_PARAMETER_VALUE_DATA = EntityType(
    "JobTemplateParameterValueData",
    ("JobTemplateName", "JobTemplateVersion", "JobTemplateParameterName"),
    (
        _key("JobTemplateName", max_length=40),
        _key("JobTemplateVersion", max_length=1),
        _key("JobTemplateParameterName", max_length=38),
        _string("Uuid", 32, nullable=False),
        _string("Sign", 1, nullable=False),
        _string("Opt", 2, nullable=False),
        _string("Low", 255, nullable=False),
        _string("High", 255, nullable=False),
    ),
)

JOB_TEMPLATE_PARAM_GROUP = EntityType(
    "JobTemplateParamGroup",
    ("JobTemplateName", "JobTemplateVersion", "JobTemplateParamGroupName"),
    (
        _string("JobSequenceName", 30, nullable=False),
        _key("JobTemplateName", max_length=40),
        _key("JobTemplateVersion", max_length=1),
        _key("JobTemplateParamGroupName", max_length=10),
        _string("JobTemplateParamGroupText", 120, nullable=False),
        _string("JobParameterSectionName", 10, nullable=False),
        _string("BasicJobCatalogEntryName", 40, nullable=False),
        _string("BasicJobTemplateGroupName", 10, nullable=False),
    ),
    (Navigation("JobTemplateParameterSet", "JobTemplateParameter"),),
)

JOB_TEMPLATE_PARAM_SECTION = EntityType(
    "JobTemplateParamSection",
    ("JobTemplateName", "JobTemplateVersion", "JobParameterSectionName"),
    (
        _key("JobTemplateName", max_length=40),
        _key("JobTemplateVersion", max_length=1),
        _string("JobSequenceName", 30, nullable=False),
        _key("JobParameterSectionName", max_length=10),
        Property("JobParameterSectionPosition", INT32, nullable=False),
        _string("JobParameterSectionText", 120, nullable=False),
        _string("BasicJobCatalogEntryName", 40, nullable=False),
    ),
    (Navigation("JobTemplateParamGroupSet", "JobTemplateParamGroup"),),
)

JOB_TEMPLATE_PARAM_VALUE_DATA = EntityType(
    "JobTemplateParamValueData",
    ("TemplateData",),
    (_key("TemplateData"),),
)

JOB_TEMPLATE_SEQUENCE = EntityType(
    "JobTemplateSequence",
    ("JobTemplateName", "JobTemplateVersion", "JobSequenceName"),
    (
        _key("JobTemplateName", max_length=40),
        _key("JobTemplateVersion", max_length=1),
        _string("JceText", 120, nullable=False),
        _key("JobSequenceName", max_length=30),
        Property("JobSequencePosition", INT32, nullable=False),
        _string("JobSequenceText", 120, nullable=False),
        _string("BasicJobCatalogEntryName", 40, nullable=False),
    ),
    (
        Navigation("JobTemplateParameterSet", "JobTemplateParameter"),
        Navigation("JobTemplateParamSectionSet", "JobTemplateParamSection"),
    ),
)
