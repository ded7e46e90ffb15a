"""The EDM of BC_EXT_APPJOB_MANAGEMENT as data: entity types, entity sets, function imports.

Everything the wire needs to know about the service lives in these frozen
values, and ``metadata``, ``payloads`` and the request parsers read them::

    >>> SERVICE.find_function_import("JobStatusGet")
    FunctionImport(name='JobStatusGet', http_method='GET', ...)
    >>> JOB_SCHEDULE_STATUS.keys
    ('JobName', 'JobRunCount')
    >>> JOB_SCHEDULE_STATUS.get_property("JobStatus")
    Property(name='JobStatus', edm_type='Edm.String', max_length=1, precision=None, nullable=True)

Types, MaxLength, Precision, Nullable, keys, parameter order and HTTP
methods come from SAP's generated proxy of the real ``$metadata`` (see
``shared/reference/sap-service-facts.md`` §2). Only the part of the model that
appjobs serves is here: JobTemplate, JobScheduleStatus, FuncImpReturn,
Jobinfo, Joblist and JobStatusInfo, and the six function imports that
return them. Navigation properties are left out because their targets
(JobTemplateParameter, ...) are not served.

Model elements compare by identity (``eq=False``): each exists once, in this
module, which also makes them cheap dictionary keys for the serializers.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable

from appjobs import errors

NAMESPACE = "BC_EXT_APPJOB_MANAGEMENT"
CONTAINER = "BC_EXT_APPJOB_MANAGEMENT_Entities"

STRING = "Edm.String"
INT16 = "Edm.Int16"
INT32 = "Edm.Int32"
BOOLEAN = "Edm.Boolean"
DATETIME = "Edm.DateTime"
EDM_TYPES = frozenset({STRING, INT16, INT32, BOOLEAN, DATETIME})  #: the primitive types this service uses


@dataclasses.dataclass(frozen=True, eq=False)
class Property:
    """A primitive property of an entity type, with the facets ``$metadata`` declares."""

    name: str
    edm_type: str
    max_length: int | None = None
    precision: int | None = None  #: fractional-second digits of an Edm.DateTime
    nullable: bool = True

    def __post_init__(self) -> None:
        if self.edm_type not in EDM_TYPES:
            raise ValueError(f"{self.name}: unsupported type {self.edm_type}")


@dataclasses.dataclass(frozen=True, eq=False)
class EntityType:
    """An entity type: its key property names and its properties in ``$metadata`` order."""

    name: str
    keys: tuple[str, ...]
    properties: tuple[Property, ...]

    def __post_init__(self) -> None:
        names = [p.name for p in self.properties]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.name}: duplicate property names")
        for key in self.keys:
            if key not in names or self.get_property(key).nullable:
                raise ValueError(f"{self.name}: key {key} must be a non-nullable property")

    @functools.cached_property
    def _by_name(self) -> dict[str, Property]:
        return {p.name: p for p in self.properties}

    @property
    def qualified_name(self) -> str:
        """``BC_EXT_APPJOB_MANAGEMENT.<Name>``, as in Atom categories and JSON ``__metadata``."""
        return f"{NAMESPACE}.{self.name}"

    @functools.cached_property
    def key_properties(self) -> tuple[Property, ...]:
        return tuple(self._by_name[k] for k in self.keys)

    def get_property(self, name: str) -> Property:
        """The property called *name*; KeyError when the type has none."""
        return self._by_name[name]

    def has_property(self, name: str) -> bool:
        return name in self._by_name

    def select(self, names: Iterable[str] | None) -> tuple[Property, ...]:
        """The properties a ``$select`` keeps, in ``$metadata`` order; None or ``*`` keeps all.

        Raises :class:`~appjobs.errors.InvalidInput` for a name the type does not have.
        """
        if names is None:
            return self.properties
        wanted = set(names)
        if "*" in wanted:
            return self.properties
        unknown = sorted(wanted - self._by_name.keys())
        if unknown:
            raise errors.InvalidInput(f"Property '{unknown[0]}' not found in type '{self.qualified_name}'")
        return tuple(p for p in self.properties if p.name in wanted)


@dataclasses.dataclass(frozen=True, eq=False)
class EntitySet:
    """An entity set: the name that appears in URLs, ids and the service document."""

    name: str
    entity_type: EntityType


@dataclasses.dataclass(frozen=True, eq=False)
class Parameter:
    """A function-import parameter; it travels as an OData literal in the query string."""

    name: str
    edm_type: str
    max_length: int | None = None
    precision: int | None = None
    nullable: bool = True  #: ``Nullable="false"`` is written only when False (no parameter here is)
    mode: str = "In"


@dataclasses.dataclass(frozen=True, eq=False)
class FunctionImport:
    """A function import: HTTP method, parameters in ``$metadata`` order, and what it returns."""

    name: str
    http_method: str
    parameters: tuple[Parameter, ...]
    return_type: EntityType
    entity_set: EntitySet
    returns_collection: bool = False

    def __post_init__(self) -> None:
        if self.http_method not in ("GET", "POST"):
            raise ValueError(f"{self.name}: HTTP method must be GET or POST")
        if self.entity_set.entity_type is not self.return_type:
            raise ValueError(f"{self.name}: entity set {self.entity_set.name} holds another type")

    @property
    def return_type_name(self) -> str:
        """``ReturnType`` as ``$metadata`` writes it, e.g. ``Collection(BC_EXT_APPJOB_MANAGEMENT.Jobinfo)``."""
        name = self.return_type.qualified_name
        return f"Collection({name})" if self.returns_collection else name

    def get_parameter(self, name: str) -> Parameter | None:
        return next((p for p in self.parameters if p.name == name), None)


@dataclasses.dataclass(frozen=True, eq=False)
class Service:
    """The whole model: what ``$metadata`` and the service document describe."""

    namespace: str
    container: str
    entity_types: tuple[EntityType, ...]
    entity_sets: tuple[EntitySet, ...]
    function_imports: tuple[FunctionImport, ...]

    def find_entity_set(self, name: str) -> EntitySet | None:
        """The entity set called *name* (case-sensitive, like Gateway), or None."""
        return next((s for s in self.entity_sets if s.name == name), None)

    def find_function_import(self, name: str) -> FunctionImport | None:
        """The function import called *name* (case-sensitive, like Gateway), or None."""
        return next((f for f in self.function_imports if f.name == name), None)


def _key(name: str, edm_type: str = STRING, max_length: int | None = None) -> Property:
    return Property(name, edm_type, max_length=max_length, nullable=False)


def _string(name: str, max_length: int | None = None, *, nullable: bool = True) -> Property:
    return Property(name, STRING, max_length=max_length, nullable=nullable)


def _datetime(name: str, precision: int, *, nullable: bool = True) -> Property:
    return Property(name, DATETIME, precision=precision, nullable=nullable)


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
)

FUNC_IMP_RETURN_COLLECTION = EntitySet("FuncImpReturnCollection", FUNC_IMP_RETURN)
JOBINFO_SET = EntitySet("JobinfoSet", JOBINFO)
JOBLIST_SET = EntitySet("JoblistSet", JOBLIST)
JOB_SCHEDULE_STATUS_COLLECTION = EntitySet("JobScheduleStatusCollection", JOB_SCHEDULE_STATUS)
JOB_STATUS_INFO_SET = EntitySet("JobStatusInfoSet", JOB_STATUS_INFO)
JOB_TEMPLATE_SET = EntitySet("JobTemplateSet", JOB_TEMPLATE)

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
JOB_STATUS_GET = FunctionImport(
    "JobStatusGet",
    "GET",
    (Parameter("JobName", STRING), Parameter("JobRunCount", STRING)),
    JOB_SCHEDULE_STATUS,
    JOB_SCHEDULE_STATUS_COLLECTION,
)

SERVICE = Service(
    namespace=NAMESPACE,
    container=CONTAINER,
    entity_types=(FUNC_IMP_RETURN, JOBINFO, JOBLIST, JOB_SCHEDULE_STATUS, JOB_STATUS_INFO, JOB_TEMPLATE),
    entity_sets=(
        FUNC_IMP_RETURN_COLLECTION,
        JOBINFO_SET,
        JOBLIST_SET,
        JOB_SCHEDULE_STATUS_COLLECTION,
        JOB_STATUS_INFO_SET,
        JOB_TEMPLATE_SET,
    ),
    function_imports=(JOBINFO_GET, JOB_ABORT, JOB_CANCEL, JOB_LIST_GET, JOB_SCHEDULE, JOB_STATUS_GET),
)
