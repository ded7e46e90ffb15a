"""Every entity set, navigation and function import a running server's ``$metadata`` declares answers, never a 5xx.

The walk reads the ``$metadata`` the server sends (not appjobs' Python
model), so that whatever a client generated from it would call is called:
each entity set as a feed and by a key, each navigation from a keyed
entity, each function import with its declared method and plausible
parameters, in Atom and in JSON.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import defusedxml.ElementTree as SafeET
import pytest
import requests
from tenant import Tenant

EDM = "{http://schemas.microsoft.com/ado/2008/09/edm}"
EDMX_M = "{http://schemas.microsoft.com/ado/2007/08/dataservices/metadata}"
FORMATS = ("json", "atom")


@pytest.fixture(scope="module")
def metadata(tenant: Tenant) -> SafeET.ElementTree:
    response = requests.get(tenant.root + "/$metadata", auth=tenant.auth(), timeout=10)
    assert response.status_code == 200
    return SafeET.fromstring(response.content)


@pytest.fixture(scope="module")
def job(tenant: Tenant) -> dict:
    """A finished job of the tenant's user, whose key the walk's parameters and keys use."""
    http = tenant.session()
    scheduled = tenant.schedule(http, "/APPJOBS/DEMO_ECHO")
    tenant.wait_status(http, scheduled, "FAW", timeout=60)
    return scheduled


def _types(metadata: SafeET.ElementTree) -> dict[str, SafeET.Element]:
    return {t.get("Name"): t for t in metadata.iter(f"{EDM}EntityType")}


def _literal(name: str, edm_type: str, job: dict) -> str:
    """A plausible literal for a key property or parameter called *name*."""
    if edm_type == "Edm.String":
        known = {"JobName": job["JobName"], "JobRunCount": job["JobRunCount"], "JobCount": job["JobRunCount"],
                 "JobTemplateName": "/APPJOBS/DEMO_ECHO", "TemplateName": " ", "JobTemplateVersion": "0",
                 "JobUser": "JOBSCHEDULERUSER", "JobText": "walk"}  # fmt: skip
        return "'" + known.get(name, "X") + "'"
    if edm_type in ("Edm.Int32", "Edm.Int16"):
        return "1"
    if edm_type == "Edm.Boolean":
        return "false"
    if edm_type == "Edm.DateTime":
        return "datetime'" + (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S") + "'"
    raise AssertionError(f"no literal for {edm_type}")


def _key(entity_type: SafeET.Element, job: dict) -> str:
    props = {p.get("Name"): p.get("Type") for p in entity_type.iter(f"{EDM}Property")}
    names = [r.get("Name") for r in entity_type.iter(f"{EDM}PropertyRef")]
    return "(" + ",".join(f"{n}={_literal(n, props[n], job)}" for n in names) + ")"


def _reads(metadata: SafeET.ElementTree, job: dict) -> Iterator[str]:
    types = _types(metadata)
    for entity_set in metadata.iter(f"{EDM}EntitySet"):
        name, entity_type = entity_set.get("Name"), types[entity_set.get("EntityType").split(".")[-1]]
        key = _key(entity_type, job)
        yield name
        yield name + key
        for navigation in entity_type.iter(f"{EDM}NavigationProperty"):
            yield f"{name}{key}/{navigation.get('Name')}"
            yield f"{name}{key}?$expand={navigation.get('Name')}"


def test_walk_covers_the_whole_model(metadata: SafeET.ElementTree) -> None:
    """The walk below reaches every set (22) and function import (13) of SAP's model, none of them twice."""
    assert len(list(metadata.iter(f"{EDM}EntitySet"))) == 22
    names = [f.get("Name") for f in metadata.iter(f"{EDM}FunctionImport")]
    assert len(names) == len(set(names)) == 13


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_entity_set_and_navigation_answers(
    tenant: Tenant, metadata: SafeET.ElementTree, job: dict, fmt: str
) -> None:
    failures = []
    for path in _reads(metadata, job):
        sep = "&" if "?" in path else "?"
        response = requests.get(f"{tenant.root}/{path}{sep}$format={fmt}", auth=tenant.auth(), timeout=10)
        if response.status_code >= 500:
            failures.append((path, response.status_code, response.text[:200]))
        elif "(" not in path:
            assert response.status_code == 200, (path, response.text)  # every set reads as a feed
    assert failures == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_function_import_answers(tenant: Tenant, metadata: SafeET.ElementTree, job: dict, fmt: str) -> None:
    http = tenant.session()
    called = []
    for function in metadata.iter(f"{EDM}FunctionImport"):
        name = function.get("Name")
        params = {p.get("Name"): _literal(p.get("Name"), p.get("Type"), job) for p in function.iter(f"{EDM}Parameter")}
        params["$format"] = fmt
        method = function.get(f"{EDMX_M}HttpMethod")
        response = http.request(method, f"{tenant.root}/{name}", params=params, timeout=10)
        assert response.status_code < 500, (name, response.status_code, response.text[:300])
        called.append(name)
    assert called == [f.get("Name") for f in metadata.iter(f"{EDM}FunctionImport")]  # every one, none left out
