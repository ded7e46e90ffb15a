"""The log types of BC_EXT_APPJOB_MANAGEMENT: a step's log headers and messages, and the application log.

Declarations only, in the order of SAP's generated proxy (``shared/reference/sap-service-facts.md``
§2.2); :mod:`appjobs.odata.model` puts them into the service. JobStepLogInfo and JobLogMessage are
what ``JobHeaderSet(...)?$expand=JobStepSet/JobStepLogInfoSet/JobLogMessageSet`` returns. JobLog
and the ApplicationLog types exist in SAP's model for the application log, which appjobs has no
counterpart of: their sets answer empty.
"""

from __future__ import annotations

from appjobs.odata.edm import BOOLEAN, INT32, TIME, EntityType, Navigation, Property
from appjobs.odata.edm import datetime_prop as _datetime
from appjobs.odata.edm import key_prop as _key
from appjobs.odata.edm import string_prop as _string

APPLICATION_LOG_HEADER = EntityType(
    "ApplicationLogHeader",
    ("LogHandle",),
    (
        _string("JobName", 32, nullable=False),
        _string("JobTemplateName", 40, nullable=False),
        _string("SeverityText", 100, nullable=False),
        _string("Text"),
        _string("JobCount", 8, nullable=False),
        _string("SubObjectText", 60),
        _string("SubObject", 20),
        _string("Severity", 1),
        _string("ObjectText", 60),
        _string("Object", 20),
        _string("MessageContextField5Type", 1),
        _string("MessageContextField4Type", 1),
        _string("MessageContextField3Type", 1),
        _string("MessageContextField2Type", 1),
        _string("MessageContextField1Type", 1),
        Property("MessageTotalCount", INT32),
        Property("MessageCountW", INT32),
        Property("MessageCountS", INT32),
        Property("MessageCountI", INT32),
        Property("MessageCountE", INT32),
        Property("MessageCountA", INT32),
        _string("MessageContextField5Label"),
        _string("MessageContextField4Label"),
        _string("MessageContextField3Label"),
        _string("MessageContextField2Label"),
        _string("MessageContextField1Label"),
        _string("LogNumber", 20),
        _key("LogHandle", max_length=22),
        _string("LastChangedUser", 12),
        Property("LastChangedTime", TIME),
        _datetime("LastChangedDate", 7),
        Property("HasMessageContextField5", BOOLEAN),
        Property("HasMessageContextField4", BOOLEAN),
        Property("HasMessageContextField3", BOOLEAN),
        Property("HasMessageContextField2", BOOLEAN),
        Property("HasMessageContextField1", BOOLEAN),
        _string("ExternalNumber", 100),
        _datetime("ExpirationDate", 7),
        _string("CreatedByUser", 12),
        _string("CreatedByFormattedName", 255),
        Property("CreatedAtTime", TIME),
        _datetime("CreatedAtDate", 7),
        _datetime("CreatedAt", 0),
    ),
    (Navigation("ApplicationLogMessageSet", "ApplicationLogMessage"),),
)

APPLICATION_LOG_MESSAGE = EntityType(
    "ApplicationLogMessage",
    ("LogHandle", "MessageNumber"),
    (
        _string("ContextField1", 256),
        _string("FilterFieldName", 30),
        _string("FilterFieldValue", 100),
        _string("TypeText"),
        _string("DetailLevel", 1),
        _string("ContextField2", 256),
        _string("ContextField3", 256),
        Property("HasDetailText", BOOLEAN),
        _string("ContextField4", 256),
        _string("ContextField5", 256),
        _key("LogHandle", max_length=22),
        _key("MessageNumber", max_length=6),
        _datetime("Timestamp", 7),
        _string("Type", 1),
        _string("Text"),
        Property("HasLongText", BOOLEAN),
    ),
)

JOB_LOG = EntityType(
    "JobLog",
    ("JobName", "JobCount", "StepNumber", "LogHandle"),
    (
        _key("JobName", max_length=32),
        _key("JobCount", max_length=14),
        _key("StepNumber", INT32),
        _key("LogHandle", max_length=22),
    ),
    (Navigation("ApplicationLogHeaderSet", "ApplicationLogHeader"),),
)

JOB_LOG_MESSAGE = EntityType(
    "JobLogMessage",
    ("JobName", "JobRunCount", "StepNumber", "LogHandle", "MsgNumber"),
    (
        _key("JobName", max_length=32),
        _key("JobRunCount", max_length=8),
        _key("StepNumber", INT32),
        _key("LogHandle", max_length=22),
        _key("MsgNumber", max_length=6),
        _string("MsgType", 1),
        _string("MsgId", 20),
        _string("MsgNo", 3),
        _string("MsgV1"),
        _string("MsgV2", 50),
        _string("MsgV3", 50),
        _string("MsgV4", 50),
        _string("MsgText"),
    ),
)

JOB_STEP_LOG_INFO = EntityType(
    "JobStepLogInfo",
    ("JobName", "JobRunCount", "StepNumber", "LogHandle"),
    (
        _key("JobName", max_length=32),
        _key("JobRunCount", max_length=8),
        _key("StepNumber", INT32),
        _key("LogHandle", max_length=22),
        _string("LogNumber", 20),
        Property("MsgCntAll", INT32),
        Property("MsgCntA", INT32),
        Property("MsgCntE", INT32),
        Property("MsgCntW", INT32),
        Property("MsgCntI", INT32),
        Property("MsgCntS", INT32),
        _string("CreaDateTime", 20),
        _string("CreaUser", 12),
        _string("CreaUserLong"),
        _string("Severity", 1),
        _string("SeverityText"),
    ),
    (Navigation("JobLogMessageSet", "JobLogMessage"),),
)
