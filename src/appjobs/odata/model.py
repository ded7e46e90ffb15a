"""The EDM of BC_EXT_APPJOB_MANAGEMENT as data: entity types, entity sets, navigations, function imports.

Everything the wire needs to know about the service lives in these frozen
values (built from :mod:`appjobs.odata.edm`), and ``metadata``, ``payloads``
and the request parsers read them::

    >>> SERVICE.find_function_import("JobStatusGet")
    FunctionImport(name='JobStatusGet', http_method='GET', ...)
    >>> JOB_SCHEDULE_STATUS.keys
    ('JobName', 'JobRunCount')
    >>> JOB_SCHEDULE_STATUS.get_property("JobStatus")
    Property(name='JobStatus', edm_type='Edm.String', max_length=1, precision=None, nullable=True)

Types, MaxLength, Precision, Nullable, keys, parameter order and HTTP
methods come from SAP's generated proxy of the real ``$metadata`` (see
``shared/reference/sap-service-facts.md`` §2 and ``metadata-sketch.xml``).
The whole model is declared, as today's tenants declare it: the job, step and
template types here, the log types in :mod:`~appjobs.odata.model_logs`, the
parameter types in :mod:`~appjobs.odata.model_params`. What appjobs has no
counterpart of (the application log, parameter groups and sections) is
declared and answers empty.
"""

from __future__ import annotations

from appjobs.odata.edm import (  # noqa: F401  (re-exported: the rest of appjobs reads the model from here)
    BOOLEAN,
    CONTAINER,
    DATETIME,
    EDM_TYPES,
    INT16,
    INT32,
    NAMESPACE,
    STRING,
    TIME,
    EntitySet,
    EntityType,
    FunctionImport,
    Navigation,
    Parameter,
    Property,
    Service,
)
from appjobs.odata.edm import datetime_prop as _datetime
from appjobs.odata.edm import key_prop as _key
from appjobs.odata.edm import string_prop as _string
from appjobs.odata.model_logs import (
    APPLICATION_LOG_HEADER,
    APPLICATION_LOG_MESSAGE,
    JOB_LOG,
    JOB_LOG_MESSAGE,
    JOB_STEP_LOG_INFO,
)
from appjobs.odata.model_params import (
    JOB_PARAM_VALUES,
    JOB_PARAM_VALUES_STRUCT,
    JOB_SCHEDULE_CHECK,
    JOB_TEMPLATE_PARAM_GROUP,
    JOB_TEMPLATE_PARAM_SECTION,
    JOB_TEMPLATE_PARAM_VALUE_DATA,
    JOB_TEMPLATE_PARAMETER,
    JOB_TEMPLATE_PARAMETER_VALUE_DATA,
    JOB_TEMPLATE_SEQUENCE,
)

FUNC_IMP_RETURN = EntityType("FuncImpReturn", ("ReturnCode",), (_key("ReturnCode", INT16),))

JOBINFO = EntityType(
    "Jobinfo",
    ("JobName", "JobRunCount", "StepCount"),
    (
        _key("JobName", max_length=32),
        _key("JobRunCount", max_length=8),
        _string("JobStatus", 1),
        _datetime("JobSdlDateTime", 0),
        _datetime("JobStartDateTime", 0),
        _datetime("JobEndDateTime", 0),
        Property("JobAppRC", INT32),
        _key("StepCount", INT32),
        _string("StepStatus", 1),
        _datetime("StepStartDateTime", 0),
        Property("StepAppRC", INT32),
    ),
)

JOBLIST = EntityType(
    "Joblist",
    ("JobName", "JobRunCount"),
    (
        _key("JobName", max_length=32),
        _key("JobRunCount", max_length=8),
        _string("JobText", 120),
        _string("TemplateName", 40),
        _string("JobCreator", 12, nullable=False),
        _string("Report", 40),
        _string("Variant", 14),
        Property("NrSteps", INT32),
        _string("JobStatus", 1, nullable=False),
        _string("JobLogStatus", 1, nullable=False),
        _datetime("JobCreaDateTime", 0, nullable=False),
        _datetime("JobSchedDateTime", 0),
        _datetime("JobStartDateTime", 0),
        _datetime("JobEndDateTime", 0),
        Property("JobAppRC", INT32),
        _string("StepStatus", 1),
        _datetime("StepStartDateTime", 0),
        Property("StepApRC", INT32),  # sic: SAP's name, not "StepAppRC" as in Jobinfo
    ),
)

JOB_SCHEDULE_STATUS = EntityType(
    "JobScheduleStatus",
    ("JobName", "JobRunCount"),
    (
        _key("JobName", max_length=32),
        _key("JobRunCount", max_length=8),
        _string("JobStatus", 1),
        Property("ReturnCode", INT16),
    ),
)

JOB_STATUS_INFO = EntityType(
    "JobStatusInfo",
    ("JobStatus",),
    (_key("JobStatus", max_length=1), _string("JobStatusText", 60)),
)

# JobTemplate: the recent (S3) set of 24 properties, but the boolean keeps the
# IBP-documented name SupportsTestModeInd (guide, Business Hub sample, Cloud SDK)
# instead of S3's SupportsTestMode, as the reference recommends in §2.3: the
# programs we must not break were written against IBP. The first 13 properties
# follow the order of the guide's 2017 Atom capture, so a client that scans the
# XML text (the guide's Java and shell samples do) meets them where IBP put
# them; S3's additions follow in S3's order.
JOB_TEMPLATE = EntityType(
    "JobTemplate",
    ("JobTemplateName", "JobTemplateVersion"),
    (
        _key("JobTemplateName", max_length=40),
        _key("JobTemplateVersion", max_length=1),
        Property("JobTemplateStepCount", INT32),
        _string("JobPeriodicGranularity", 2),
        _string("JobReportName", 40),
        _string("JobUserName", 12),
        _string("JobPeriodicValue", 3),
        _string("JobTemplateText", 120),
        _datetime("CreationDateTime", 7),
        _string("CreationUserName", 12),
        _datetime("LastChangeDateTime", 7),
        _string("LastChangeUserName", 12),
        Property("SupportsTestModeInd", BOOLEAN),
        _string("JobCatalogEntryName", 40),
        _string("JobTemplateLayerC", 1),
        _string("JobTemplateHiddenInd", 1),
        _string("JobCatalogEntryTypeC", 1),
        _string("JobTemplateSequence"),
        _string("JobTemplateValues"),
        _string("Text", 120),
        _string("TextEn", 120),
        _string("JobCatalogEntryText", 120),
        _string("CreationFormattedName", 255),
        _string("LastChangeFormattedName", 255),
    ),
    (
        Navigation("JobTemplateParameterSet", "JobTemplateParameter"),
        Navigation("JobTemplateParamGroupSet", "JobTemplateParamGroup"),
        Navigation("JobTemplateParamSectionSet", "JobTemplateParamSection"),
        Navigation("JobTemplateSequenceSet", "JobTemplateSequence"),
    ),
)

JOB_HEADER = EntityType(
    "JobHeader",
    ("JobName", "JobRunCount"),
    (
        _key("JobName", max_length=32),
        _key("JobRunCount", max_length=8),
        _string("JobText", nullable=False),
        _string("JobTemplateName", 40, nullable=False),
        _string("JobTemplateText", 120),
        _string("JobSeriesCreatedAt", 20),
        _string("JobCreatedBy", 12),
        _string("JobStatus", 1),
        _string("JobPlannedStartDateTime", 20),
        _string("JobCreaDateTime", 20),
        _string("JobStartDateTime", 20),
        _string("JobEndDateTime", 20),
        Property("Periodic", BOOLEAN),
        _string("PeriodicMinutes", 2),
        _string("PeriodicHours", 2),
        _string("PeriodicDays", 3),
        _string("PeriodicWeeks", 2),
        _string("PeriodicMonths", 2),
        Property("JobStepCount", INT32),
        _string("JobCreatedByFormattedName", 80),
        Property("JobEndMaxIterations", INT32),
        _string("TaskEndDateTime", 20),
        _string("FactoryCalendar", 2),
        _string("StartRestrictionCode", 1),
        _string("TaskWeekDay", 7),
        _string("TaskWorkDayNo", 2),
        _string("TaskWorkDirCdir", 2),
        Property("TaskUseWorkdaysInd", BOOLEAN),
        _string("TimeZone", 6),
        Property("JobHasResults", BOOLEAN),
        _string("OrigJobName", 32),
        _string("OrigJobCount", 8),
        Property("JobRestartCount", INT32),
        _string("JobRunRestartMode", 1),
    ),
    (Navigation("JobStepSet", "JobStep"),),
)


JOB_STEP = EntityType(
    "JobStep",
    ("JobName", "JobRunCount", "StepNumber"),
    (
        _key("JobName", max_length=32),
        _key("JobRunCount", max_length=8),
        _key("StepNumber", INT32),
        _string("JobCatalogEntryName", 40, nullable=False),
        _string("JobCatalogEntryText", 120),
        _string("StepStartDateTime", 20),
        _string("StepStatus", 1),
        Property("StepAppRC", INT32),
        Property("StepHasResults", BOOLEAN),
        Property("NrOfLogs", INT32),
    ),
    (Navigation("JobStepLogInfoSet", "JobStepLogInfo"),),
)


APPLICATION_LOG_HEADER_SET = EntitySet("ApplicationLogHeaderSet", APPLICATION_LOG_HEADER)
APPLICATION_LOG_MESSAGE_SET = EntitySet("ApplicationLogMeassageSet", APPLICATION_LOG_MESSAGE)  # sic: SAP's spelling
FUNC_IMP_RETURN_COLLECTION = EntitySet("FuncImpReturnCollection", FUNC_IMP_RETURN)
JOBINFO_SET = EntitySet("JobinfoSet", JOBINFO)
JOBLIST_SET = EntitySet("JoblistSet", JOBLIST)
JOB_HEADER_SET = EntitySet("JobHeaderSet", JOB_HEADER)
JOB_LOG_SET = EntitySet("JobLogSet", JOB_LOG)
JOB_LOG_MESSAGE_SET = EntitySet("JobLogMessageSet", JOB_LOG_MESSAGE)
JOB_PARAM_VALUES_SET = EntitySet("JobParamValuesSet", JOB_PARAM_VALUES)
JOB_PARAM_VALUES_STRUCT_SET = EntitySet("JobParamValuesStructSet", JOB_PARAM_VALUES_STRUCT)
JOB_SCHEDULE_CHECK_COLLECTION = EntitySet("JobScheduleCheckCollection", JOB_SCHEDULE_CHECK)
JOB_SCHEDULE_STATUS_COLLECTION = EntitySet("JobScheduleStatusCollection", JOB_SCHEDULE_STATUS)
JOB_STATUS_INFO_SET = EntitySet("JobStatusInfoSet", JOB_STATUS_INFO)
JOB_STEP_SET = EntitySet("JobStepSet", JOB_STEP)
JOB_STEP_LOG_INFO_SET = EntitySet("JobStepLogInfoSet", JOB_STEP_LOG_INFO)
JOB_TEMPLATE_SET = EntitySet("JobTemplateSet", JOB_TEMPLATE)
JOB_TEMPLATE_PARAMETER_SET = EntitySet("JobTemplateParameterSet", JOB_TEMPLATE_PARAMETER)
JOB_TEMPLATE_PARAMETER_VALUE_DATA_SET = EntitySet("JobTemplateParameterValueDataSet", JOB_TEMPLATE_PARAMETER_VALUE_DATA)
JOB_TEMPLATE_PARAM_GROUP_SET = EntitySet("JobTemplateParamGroupSet", JOB_TEMPLATE_PARAM_GROUP)
JOB_TEMPLATE_PARAM_SECTION_SET = EntitySet("JobTemplateParamSectionSet", JOB_TEMPLATE_PARAM_SECTION)
JOB_TEMPLATE_PARAM_VALUE_DATA_SET = EntitySet("JobTemplateParamValueDataSet", JOB_TEMPLATE_PARAM_VALUE_DATA)
JOB_TEMPLATE_SEQUENCE_SET = EntitySet("JobTemplateSequenceSet", JOB_TEMPLATE_SEQUENCE)

# The job-key parameters of JobCancel/JobAbort really are JobRunCount(14) before
# JobName(32), and JobStatusGet's have no MaxLength at all (ABAP type string).
_CANCEL_PARAMETERS = (Parameter("JobRunCount", STRING, max_length=14), Parameter("JobName", STRING, max_length=32))

JOBINFO_GET = FunctionImport(
    "JobinfoGet",
    "GET",
    (Parameter("JobName", STRING, max_length=32), Parameter("JobRunCount", STRING, max_length=8)),
    JOBINFO,
    JOBINFO_SET,
    returns_collection=True,
)
JOB_ABORT = FunctionImport("JobAbort", "POST", _CANCEL_PARAMETERS, FUNC_IMP_RETURN, FUNC_IMP_RETURN_COLLECTION)
JOB_CANCEL = FunctionImport("JobCancel", "POST", _CANCEL_PARAMETERS, FUNC_IMP_RETURN, FUNC_IMP_RETURN_COLLECTION)
JOB_LIST_GET = FunctionImport(
    "JobListGet",
    "GET",
    (
        Parameter("JobText", STRING, max_length=120),
        Parameter("CreationTimeFrom", DATETIME, precision=0),
        Parameter("CreationTimeTo", DATETIME, precision=0),
        Parameter("TemplateName", STRING, max_length=40),
        Parameter("JobCreator", STRING, max_length=12),
        Parameter("Report", STRING, max_length=40),
        Parameter("Variant", STRING, max_length=14),
        Parameter("JobName", STRING, max_length=32),
    ),
    JOBLIST,
    JOBLIST_SET,
    returns_collection=True,
)
JOB_SCHEDULE = FunctionImport(
    "JobSchedule",
    "POST",
    (
        Parameter("JobUserID", STRING, max_length=12),  # obsolete, still declared
        Parameter("JobUserName", STRING, max_length=40),  # obsolete, still declared
        Parameter("JobText", STRING, max_length=120),
        Parameter("JobTemplateName", STRING, max_length=40),
        Parameter("JobParameterValues", STRING),
        Parameter("TestModeInd", BOOLEAN),
        Parameter("JobUser", STRING, max_length=40),
        Parameter("JobParameterValuesSimple", STRING),
    ),
    JOB_SCHEDULE_STATUS,
    JOB_SCHEDULE_STATUS_COLLECTION,
)
JOB_PARAM_VALUES_GET = FunctionImport(
    "JobParamValuesGet",
    "GET",
    # sic: JobName 14 and JobCount 32, swapped in SAP's model; the function itself takes a 32-character JobName
    (Parameter("JobName", STRING, max_length=14), Parameter("JobCount", STRING, max_length=32)),
    JOB_PARAM_VALUES,
    JOB_PARAM_VALUES_SET,
)
JOB_PARAM_VALUES_STRUCT_GET = FunctionImport(
    "JobParamValuesStructGet",
    "GET",
    (Parameter("JobName", STRING), Parameter("JobCount", STRING)),
    JOB_PARAM_VALUES_STRUCT,
    JOB_PARAM_VALUES_STRUCT_SET,
    returns_collection=True,
)
JOB_RESTART = FunctionImport(
    "JobRestart",
    "POST",
    (Parameter("JobName", STRING), Parameter("JobRunCount", STRING), Parameter("JobRestartMode", STRING)),
    JOB_SCHEDULE_STATUS,
    JOB_SCHEDULE_STATUS_COLLECTION,
)
JOB_SCHEDULE_CHECK_FI = FunctionImport(
    "JobScheduleCheck",
    "POST",
    (
        Parameter("JobUser", STRING, max_length=40),
        Parameter("JobParameterValues", STRING),
        Parameter("JobTemplateName", STRING, max_length=40),
        Parameter("JobParameterValuesSimple", STRING),
    ),
    JOB_SCHEDULE_CHECK,
    JOB_SCHEDULE_CHECK_COLLECTION,
)
JOB_STATUS_GET = FunctionImport(
    "JobStatusGet",
    "GET",
    (Parameter("JobName", STRING), Parameter("JobRunCount", STRING)),
    JOB_SCHEDULE_STATUS,
    JOB_SCHEDULE_STATUS_COLLECTION,
)

JOB_TEMPLATE_READ = FunctionImport(
    "JobTemplateRead",
    "GET",
    (Parameter("JobTemplateName", STRING, max_length=40),),
    JOB_TEMPLATE_PARAM_VALUE_DATA,
    JOB_TEMPLATE_PARAM_VALUE_DATA_SET,
)
TEMPLATE_VALUES_GET = FunctionImport(
    "TemplateValuesGet",
    "GET",
    (Parameter("JobTemplateName", STRING, max_length=40),),
    JOB_PARAM_VALUES,
    JOB_PARAM_VALUES_SET,
)
TEMPLATE_VALUES_STRUCT_GET = FunctionImport(
    "TemplateValuesStructGet",
    "GET",
    (Parameter("JobTemplateName", STRING, max_length=40),),
    JOB_PARAM_VALUES_STRUCT,
    JOB_PARAM_VALUES_STRUCT_SET,
    returns_collection=True,
)

# In the order of SAP's model (metadata-sketch.xml), which $metadata and the service document follow.
SERVICE = Service(
    namespace=NAMESPACE,
    container=CONTAINER,
    entity_types=(
        APPLICATION_LOG_HEADER,
        APPLICATION_LOG_MESSAGE,
        FUNC_IMP_RETURN,
        JOBINFO,
        JOBLIST,
        JOB_HEADER,
        JOB_LOG,
        JOB_LOG_MESSAGE,
        JOB_PARAM_VALUES,
        JOB_PARAM_VALUES_STRUCT,
        JOB_SCHEDULE_CHECK,
        JOB_SCHEDULE_STATUS,
        JOB_STATUS_INFO,
        JOB_STEP,
        JOB_STEP_LOG_INFO,
        JOB_TEMPLATE,
        JOB_TEMPLATE_PARAMETER,
        JOB_TEMPLATE_PARAMETER_VALUE_DATA,
        JOB_TEMPLATE_PARAM_GROUP,
        JOB_TEMPLATE_PARAM_SECTION,
        JOB_TEMPLATE_PARAM_VALUE_DATA,
        JOB_TEMPLATE_SEQUENCE,
    ),
    entity_sets=(
        APPLICATION_LOG_HEADER_SET,
        APPLICATION_LOG_MESSAGE_SET,
        FUNC_IMP_RETURN_COLLECTION,
        JOBINFO_SET,
        JOBLIST_SET,
        JOB_HEADER_SET,
        JOB_LOG_SET,
        JOB_LOG_MESSAGE_SET,
        JOB_PARAM_VALUES_SET,
        JOB_PARAM_VALUES_STRUCT_SET,
        JOB_SCHEDULE_CHECK_COLLECTION,
        JOB_SCHEDULE_STATUS_COLLECTION,
        JOB_STATUS_INFO_SET,
        JOB_STEP_SET,
        JOB_STEP_LOG_INFO_SET,
        JOB_TEMPLATE_SET,
        JOB_TEMPLATE_PARAMETER_SET,
        JOB_TEMPLATE_PARAMETER_VALUE_DATA_SET,
        JOB_TEMPLATE_PARAM_GROUP_SET,
        JOB_TEMPLATE_PARAM_SECTION_SET,
        JOB_TEMPLATE_PARAM_VALUE_DATA_SET,
        JOB_TEMPLATE_SEQUENCE_SET,
    ),
    function_imports=(
        JOBINFO_GET,
        JOB_ABORT,
        JOB_CANCEL,
        JOB_LIST_GET,
        JOB_PARAM_VALUES_GET,
        JOB_PARAM_VALUES_STRUCT_GET,
        JOB_RESTART,
        JOB_SCHEDULE,
        JOB_SCHEDULE_CHECK_FI,
        JOB_STATUS_GET,
        JOB_TEMPLATE_READ,
        TEMPLATE_VALUES_GET,
        TEMPLATE_VALUES_STRUCT_GET,
    ),
)
