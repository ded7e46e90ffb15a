"""``$metadata`` and the service document, generated from :mod:`appjobs.odata.model`.

``metadata_document()`` is the EDMX 1.0 / DataServiceVersion 2.0 document,
built once and cached as bytes, in the shape SAP Gateway writes (one line,
no indentation; shortened here)::

    <?xml version="1.0" encoding="utf-8"?>
    <edmx:Edmx Version="1.0" xmlns:edmx=".../2007/06/edmx" xmlns:m=".../dataservices/metadata" xmlns:sap="...SAPData">
     <edmx:DataServices m:DataServiceVersion="2.0">
      <Schema Namespace="BC_EXT_APPJOB_MANAGEMENT" xml:lang="en" sap:schema-version="1" xmlns=".../2008/09/edm">
       <EntityType Name="JobScheduleStatus" sap:content-version="1">
        <Key><PropertyRef Name="JobName"/><PropertyRef Name="JobRunCount"/></Key>
        <Property Name="JobName" Type="Edm.String" Nullable="false" MaxLength="32"/> ...
       </EntityType> ...
       <EntityContainer Name="BC_EXT_APPJOB_MANAGEMENT_Entities" m:IsDefaultEntityContainer="true"
                        sap:supported-formats="atom json">
        <EntitySet Name="JobTemplateSet" EntityType="BC_EXT_APPJOB_MANAGEMENT.JobTemplate" sap:creatable="false"
                   sap:updatable="false" sap:deletable="false" sap:content-version="1"/> ...
        <FunctionImport Name="JobStatusGet" ReturnType="BC_EXT_APPJOB_MANAGEMENT.JobScheduleStatus"
                        EntitySet="JobScheduleStatusCollection" m:HttpMethod="GET">
         <Parameter Name="JobName" Type="Edm.String" Mode="In"/> ...

The ``sap:*`` annotations follow ``shared/reference/metadata-sketch.xml``
(Gateway conventions, not a copy of SAP's document), except that
``sap:supported-formats`` says ``atom json``: the sketch's ``xlsx`` is a
format appjobs cannot serve.

``service_document_xml(base_url)`` is the AtomPub service document,
``service_document_json()`` its JSON form ``{"d": {"EntitySets": [...]}}``.
"""

from __future__ import annotations

import functools
import json

from appjobs.odata import model
from appjobs.odata.values import xml_attr

EDMX_NS = "http://schemas.microsoft.com/ado/2007/06/edmx"
EDM_NS = "http://schemas.microsoft.com/ado/2008/09/edm"
METADATA_NS = "http://schemas.microsoft.com/ado/2007/08/dataservices/metadata"
SAP_NS = "http://www.sap.com/Protocols/SAPData"
APP_NS = "http://www.w3.org/2007/app"
ATOM_NS = "http://www.w3.org/2005/Atom"

# Every set of this service is read-only: entities only come out of function imports and reads.
_SET_ANNOTATIONS = 'sap:creatable="false" sap:updatable="false" sap:deletable="false" sap:content-version="1"'


@functools.cache
def metadata_document(service: model.Service = model.SERVICE) -> bytes:
    """The ``$metadata`` EDMX of *service*, UTF-8 encoded; built on first use, then served from the cache."""
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>',
        f'<edmx:Edmx Version="1.0" xmlns:edmx="{EDMX_NS}" xmlns:m="{METADATA_NS}" xmlns:sap="{SAP_NS}">',
        '<edmx:DataServices m:DataServiceVersion="2.0">',
        f'<Schema Namespace="{xml_attr(service.namespace)}" xml:lang="en" sap:schema-version="1" xmlns="{EDM_NS}">',
    ]
    parts += (_entity_type(t) for t in service.entity_types)
    parts += (_association(t, n) for t, n in service.associations())
    parts.append(
        f'<EntityContainer Name="{xml_attr(service.container)}" m:IsDefaultEntityContainer="true"'
        ' sap:supported-formats="atom json">'
    )
    parts += (_entity_set(s) for s in service.entity_sets)
    parts += (_association_set(service, t, n) for t, n in service.associations())
    parts += (_function_import(f) for f in service.function_imports)
    parts.append("</EntityContainer></Schema></edmx:DataServices></edmx:Edmx>")
    return "".join(parts).encode()


def _facets(max_length: int | None, precision: int | None, *, nullable: bool) -> str:
    """Nullable, MaxLength and Precision attributes, in the order the sketch and Gateway write them."""
    text = "" if nullable else ' Nullable="false"'
    if max_length is not None:
        text += f' MaxLength="{max_length}"'
    if precision is not None:
        text += f' Precision="{precision}"'
    return text


def _entity_type(entity_type: model.EntityType) -> str:
    keys = "".join(f'<PropertyRef Name="{xml_attr(k)}"/>' for k in entity_type.keys)
    properties = "".join(
        f'<Property Name="{xml_attr(p.name)}" Type="{p.edm_type}"'
        f"{_facets(p.max_length, p.precision, nullable=p.nullable)}/>"
        for p in entity_type.properties
    )
    navigations = "".join(_navigation(entity_type, n) for n in entity_type.navigations)
    return (
        f'<EntityType Name="{xml_attr(entity_type.name)}" sap:content-version="1">'
        f"<Key>{keys}</Key>{properties}{navigations}</EntityType>"
    )


def _navigation(entity_type: model.EntityType, navigation: model.Navigation) -> str:
    name = navigation.association(entity_type.name)
    return (
        f'<NavigationProperty Name="{xml_attr(navigation.name)}" Relationship="{model.NAMESPACE}.{name}"'
        f' FromRole="FromRole_{name}" ToRole="ToRole_{name}"/>'
    )


def _association(entity_type: model.EntityType, navigation: model.Navigation) -> str:
    """``assoc_<From>_<To>``: one <From> to any number of <To>, as every association of this service."""
    name = navigation.association(entity_type.name)
    return (
        f'<Association Name="{name}" sap:content-version="1">'
        f'<End Type="{entity_type.qualified_name}" Multiplicity="1" Role="FromRole_{name}"/>'
        f'<End Type="{model.NAMESPACE}.{navigation.target}" Multiplicity="*" Role="ToRole_{name}"/>'
        "</Association>"
    )


def _association_set(service: model.Service, entity_type: model.EntityType, navigation: model.Navigation) -> str:
    name = navigation.association(entity_type.name)
    source = next(s for s in service.entity_sets if s.entity_type is entity_type)
    target = service.navigation_target(navigation)
    return (
        f'<AssociationSet Name="{name}_AssocSet" Association="{model.NAMESPACE}.{name}" {_SET_ANNOTATIONS}>'
        f'<End EntitySet="{source.name}" Role="FromRole_{name}"/>'
        f'<End EntitySet="{target.name}" Role="ToRole_{name}"/>'
        "</AssociationSet>"
    )


def _entity_set(entity_set: model.EntitySet) -> str:
    return (
        f'<EntitySet Name="{xml_attr(entity_set.name)}" EntityType="{entity_set.entity_type.qualified_name}"'
        f" {_SET_ANNOTATIONS}/>"
    )


def _function_import(function: model.FunctionImport) -> str:
    parameters = "".join(
        f'<Parameter Name="{xml_attr(p.name)}" Type="{p.edm_type}" Mode="{p.mode}"'
        f"{_facets(p.max_length, p.precision, nullable=p.nullable)}/>"
        for p in function.parameters
    )
    return (
        f'<FunctionImport Name="{xml_attr(function.name)}" ReturnType="{function.return_type_name}"'
        f' EntitySet="{xml_attr(function.entity_set.name)}" m:HttpMethod="{function.http_method}">'
        f"{parameters}</FunctionImport>"
    )


@functools.cache
def _collections(service: model.Service) -> str:
    """The ``app:collection`` elements; they do not depend on the request, so they are built once."""
    return "".join(
        f'<app:collection {_SET_ANNOTATIONS} href="{xml_attr(s.name)}">'
        f'<atom:title type="text">{xml_attr(s.name)}</atom:title>'
        f"<sap:member-title>{xml_attr(s.entity_type.name)}</sap:member-title></app:collection>"
        for s in service.entity_sets
    )


def service_document_xml(base_url: str, service: model.Service = model.SERVICE) -> bytes:
    """The AtomPub service document at the service root *base_url* (ending in ``/``).

    Shape, as Gateway writes it (``xml:base`` and both links are *base_url*)::

        <app:service xml:lang="en" xml:base="…/" xmlns:app=… xmlns:atom=… xmlns:m=… xmlns:sap=…>
         <app:workspace><atom:title type="text">Data</atom:title>
          <app:collection sap:creatable="false" … href="JobTemplateSet">
           <atom:title type="text">JobTemplateSet</atom:title><sap:member-title>JobTemplate</sap:member-title>
          </app:collection> …
         </app:workspace>
         <atom:link rel="self" href="…/"/><atom:link rel="latest-version" href="…/"/>
        </app:service>
    """
    base = xml_attr(base_url)
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<app:service xml:lang="en" xml:base="{base}" xmlns:app="{APP_NS}" xmlns:atom="{ATOM_NS}"'
        f' xmlns:m="{METADATA_NS}" xmlns:sap="{SAP_NS}">'
        f'<app:workspace><atom:title type="text">Data</atom:title>{_collections(service)}</app:workspace>'
        f'<atom:link rel="self" href="{base}"/><atom:link rel="latest-version" href="{base}"/>'
        "</app:service>"
    ).encode()


@functools.cache
def service_document_json(service: model.Service = model.SERVICE) -> bytes:
    """The service document in JSON: ``{"d": {"EntitySets": ["FuncImpReturnCollection", …]}}``."""
    return json.dumps({"d": {"EntitySets": [s.name for s in service.entity_sets]}}, separators=(",", ":")).encode()
