"""The building blocks of an OData v2 model: properties, entity types and sets, navigations, function imports.

:mod:`appjobs.odata.model` declares BC_EXT_APPJOB_MANAGEMENT with them; ``metadata``,
``payloads`` and the request parsers read the declarations. Elements compare by
identity (``eq=False``): each exists once, which also makes them cheap dictionary
keys for the serializers.

A navigation names its target type, not the type itself, so that a model can
declare its types in any order; :class:`Service` resolves it
(:meth:`Service.navigation_target`). Every navigation here is to-many and
optional, as all of SAP's in this service are; its association is
``assoc_<From>_<To>``, with roles ``FromRole_<association>`` and
``ToRole_<association>``, as Gateway names them.
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
TIME = "Edm.Time"
EDM_TYPES = frozenset({STRING, INT16, INT32, BOOLEAN, DATETIME, TIME})  #: the primitive types this service uses


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
class Navigation:
    """A to-many navigation property: its name (also the last segment of its URL) and its target type's name."""

    name: str
    target: str  #: the name of the entity type it leads to

    def association(self, source: str) -> str:
        """The association's name, as Gateway derives it: ``assoc_<Source>_<Target>``."""
        return f"assoc_{source}_{self.target}"


@dataclasses.dataclass(frozen=True, eq=False)
class EntityType:
    """An entity type: its key property names and its properties in ``$metadata`` order."""

    name: str
    keys: tuple[str, ...]
    properties: tuple[Property, ...]
    navigations: tuple[Navigation, ...] = ()

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

    @functools.cached_property
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

    def find_navigation(self, name: str) -> Navigation | None:
        """The navigation property called *name*, or None."""
        return next((n for n in self.navigations if n.name == name), None)

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

    def navigation_target(self, navigation: Navigation) -> EntitySet:
        """The entity set a navigation leads to: the one set of its target type."""
        return self._set_of_type[navigation.target]

    @functools.cached_property
    def _set_of_type(self) -> dict[str, EntitySet]:
        return {s.entity_type.name: s for s in self.entity_sets}

    def associations(self) -> list[tuple[EntityType, Navigation]]:
        """Every navigation with the type it starts from, in ``$metadata`` order."""
        return [(t, n) for t in self.entity_types for n in t.navigations]

    def __post_init__(self) -> None:
        sets = self._set_of_type
        for entity_type, navigation in self.associations():
            if navigation.target not in sets:
                raise ValueError(f"{entity_type.name}.{navigation.name}: no entity set of type {navigation.target}")


def key_prop(name: str, edm_type: str = STRING, max_length: int | None = None) -> Property:
    """A key property: never null."""
    return Property(name, edm_type, max_length=max_length, nullable=False)


def string_prop(name: str, max_length: int | None = None, *, nullable: bool = True) -> Property:
    return Property(name, STRING, max_length=max_length, nullable=nullable)


def datetime_prop(name: str, precision: int, *, nullable: bool = True) -> Property:
    return Property(name, DATETIME, precision=precision, nullable=nullable)
