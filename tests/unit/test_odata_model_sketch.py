"""The served ``$metadata`` against the reference model (``shared/reference/metadata-sketch.xml``), element by element.

The sketch is SAP's model as its generated proxy shows it. Every entity type, property (type, facets,
nullability), key, navigation, association, entity set and function import (method, return type, set,
parameters in order) must be as there. The deviations are deliberate and listed here, each with its
reason: JobTemplate keeps the IBP name ``SupportsTestModeInd`` and the guide's property order (see
:mod:`appjobs.odata.model`), and the container offers no ``xlsx``.
"""

from __future__ import annotations

import pathlib

import defusedxml.ElementTree as SafeET
import pytest

from appjobs.odata import metadata

SKETCH = pathlib.Path(__file__).resolve().parents[3] / "shared" / "reference" / "metadata-sketch.xml"
EDMX = "{http://schemas.microsoft.com/ado/2007/06/edmx}"
EDM = "{http://schemas.microsoft.com/ado/2008/09/edm}"
M = "{http://schemas.microsoft.com/ado/2007/08/dataservices/metadata}"

pytestmark = pytest.mark.skipif(not SKETCH.exists(), reason=f"the reference model is not beside the checkout: {SKETCH}")


def _schema(document: bytes):
    return SafeET.fromstring(document).find(f"{EDMX}DataServices/{EDM}Schema")


@pytest.fixture(scope="module")
def ours():
    return _schema(metadata.metadata_document())


@pytest.fixture(scope="module")
def sketch():
    return _schema(SKETCH.read_bytes())


def _types(schema) -> dict[str, object]:
    return {t.get("Name"): t for t in schema.findall(f"{EDM}EntityType")}


def _properties(entity_type) -> dict[str, dict[str, str]]:
    return {p.get("Name"): dict(p.attrib) for p in entity_type.findall(f"{EDM}Property")}


def _sorted_properties(entity_type) -> list[dict[str, str]]:
    return sorted((dict(p.attrib) for p in entity_type.findall(f"{EDM}Property")), key=lambda a: a["Name"])


def _children(element, tag: str) -> list[dict[str, str]]:
    return [dict(c.attrib) for c in element.findall(f"{EDM}{tag}")]


def test_every_entity_type_of_the_sketch_is_served_in_its_order(ours, sketch) -> None:
    assert list(_types(ours)) == list(_types(sketch))


def test_every_entity_type_has_the_sketchs_keys_properties_and_navigations(ours, sketch) -> None:
    served = _types(ours)
    for name, expected in _types(sketch).items():
        got = served[name]
        assert _children(got.find(f"{EDM}Key"), "PropertyRef") == _children(expected.find(f"{EDM}Key"), "PropertyRef")
        assert _children(got, "NavigationProperty") == _children(expected, "NavigationProperty"), name
        if name == "JobTemplate":  # the IBP name and the guide's order, on purpose
            theirs = _properties(expected)
            theirs["SupportsTestModeInd"] = {**theirs.pop("SupportsTestMode"), "Name": "SupportsTestModeInd"}
            assert _properties(got) == theirs
        else:
            assert [dict(p.attrib) for p in got.findall(f"{EDM}Property")] == [
                dict(p.attrib) for p in expected.findall(f"{EDM}Property")
            ], name


def test_associations_are_the_sketchs(ours, sketch) -> None:
    def ends(schema):
        return {a.get("Name"): _children(a, "End") for a in schema.findall(f"{EDM}Association")}

    assert ends(ours) == ends(sketch)


def test_entity_sets_association_sets_and_function_imports_are_the_sketchs(ours, sketch) -> None:
    def container(schema):
        return schema.find(f"{EDM}EntityContainer")

    mine, theirs = container(ours), container(sketch)
    assert _children(mine, "EntitySet") == _children(theirs, "EntitySet")
    assert [(s.get("Name"), _children(s, "End")) for s in mine.findall(f"{EDM}AssociationSet")] == [
        (s.get("Name"), _children(s, "End")) for s in theirs.findall(f"{EDM}AssociationSet")
    ]
    assert [(f.attrib, _children(f, "Parameter")) for f in mine.findall(f"{EDM}FunctionImport")] == [
        (f.attrib, _children(f, "Parameter")) for f in theirs.findall(f"{EDM}FunctionImport")
    ]
    assert mine.get("{http://www.sap.com/Protocols/SAPData}supported-formats") == "atom json"  # no xlsx
