"""JobTemplate's steps and parameters over real HTTP: JobTemplateSequenceSet and JobTemplateParameterSet.

A two-step template whose steps declare parameters (step 2 declares MODE as
step 1 does, so the name needs its sequence suffix to stay a unique key) is
imported into one tenant and read every way: navigations, ``$expand`` in
JSON and Atom, the sets directly with their options, pyodata, missing keys.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import defusedxml.ElementTree as SafeET
import pyodata
import pytest
import requests
from tenant import Tenant, admin

pytestmark = pytest.mark.backends("sqlite", "postgresql")

ATOM = "{http://www.w3.org/2005/Atom}"
M = "{http://schemas.microsoft.com/ado/2007/08/dataservices/metadata}"
D = "{http://schemas.microsoft.com/ado/2007/08/dataservices}"
RELATED = "http://schemas.microsoft.com/ado/2007/08/dataservices/related/"
TEMPLATE = "/ZTEST/TPLSETS"
KEY = f"(JobTemplateName='{TEMPLATE}',JobTemplateVersion='0')"
SEQ2 = f"(JobTemplateName='{TEMPLATE}',JobTemplateVersion='0',JobSequenceName='0002')"
TEMPLATES = f"""
[[template]]
name = "{TEMPLATE}"
text = "Two steps with parameters"

[[template.step]]
text = "Load"
command = 'true'
[template.step.parameters]
MODE = "delta"
[template.step.parameters.DAY]
type = "date"
mandatory = true
text = "Day to load"

[[template.step]]
text = "Report"
command = 'true'
[template.step.parameters]
MODE = "full"
[template.step.parameters.PLANTS_AREA]
select_option = true
"""
#: (JobSequenceName, JobTemplateParameterName, JobTempParamMandatoryInd) of every parameter, in the
#: order the template reads back (by step, then by name).
PARAMETERS = [
    ("0001", "DAY     0001", "X"),
    ("0001", "MODE    0001", ""),
    ("0002", "MODE    0002", ""),
    ("0002", "PLANTS_AREA0002", ""),
]


@pytest.fixture(scope="module")
def imported(tenant: Tenant) -> Tenant:
    toml = tenant.data_dir.parent / "tplsets.toml"
    toml.write_text(TEMPLATES, encoding="utf-8")
    admin(tenant.data_dir, "templates", "import", str(toml))
    return tenant


def get_json(tenant: Tenant, path: str, **params: str) -> requests.Response:
    params = {"$format": "json", **params}
    return requests.get(f"{tenant.root}/{path}", params=params, auth=tenant.auth(), timeout=10)


def results(tenant: Tenant, path: str, **params: str) -> list[dict]:
    response = get_json(tenant, path, **params)
    assert response.status_code == 200, response.text
    return response.json()["d"]["results"]


def get_atom(tenant: Tenant, path: str, **params: str) -> ET.Element:
    response = requests.get(f"{tenant.root}/{path}", params=params, auth=tenant.auth(), timeout=10)
    assert response.status_code == 200, response.text
    return SafeET.fromstring(response.content)


def rows(parameters: list[dict]) -> list[tuple[str, str, str]]:
    return [(p["JobSequenceName"], p["JobTemplateParameterName"], p["JobTempParamMandatoryInd"]) for p in parameters]


def test_sequence_navigation_has_one_entity_per_step(imported: Tenant) -> None:
    steps = results(imported, f"JobTemplateSet{KEY}/JobTemplateSequenceSet")
    fields = (
        "JobTemplateName",
        "JobSequenceName",
        "JobSequencePosition",
        "JobSequenceText",
        "BasicJobCatalogEntryName",
    )
    assert [tuple(s[f] for f in fields) for s in steps] == [
        (TEMPLATE, "0001", 1, "Load", TEMPLATE),
        (TEMPLATE, "0002", 2, "Report", TEMPLATE),
    ]
    assert {s["JceText"] for s in steps} == {"Two steps with parameters"}
    uri = f"{imported.root}/JobTemplateSequenceSet{SEQ2.replace('/', '%2F')}"  # the slashes escaped, as Gateway does
    assert steps[1]["__metadata"]["uri"] == uri
    assert steps[1]["JobTemplateParameterSet"] == {"__deferred": {"uri": uri + "/JobTemplateParameterSet"}}


def test_parameter_navigations_of_template_and_of_step(imported: Tenant) -> None:
    every = results(imported, f"JobTemplateSet{KEY}/JobTemplateParameterSet")
    assert rows(every) == PARAMETERS
    first = every[0]
    assert first["BasicJobCatalogEntryName"] == TEMPLATE
    empty = ("JobTempParamHasVhInd", "JobTempParamReadOnlyInd", "JobTempParamHiddenInd", "JobTemplateParamGroupName")
    assert [first[f] for f in empty] == ["", "", "", ""]
    of_step = results(imported, f"JobTemplateSequenceSet{SEQ2}/JobTemplateParameterSet")
    assert rows(of_step) == PARAMETERS[2:]
    through = results(imported, f"JobTemplateSet{KEY}/JobTemplateSequenceSet{SEQ2[:-1]})/JobTemplateParameterSet")
    assert rows(through) == PARAMETERS[2:]


def test_expand_paths_in_json(imported: Tenant) -> None:
    template = get_json(imported, "JobTemplateSet" + KEY, **{"$expand": "JobTemplateSequenceSet"}).json()["d"]
    steps = template["JobTemplateSequenceSet"]["results"]
    assert [s["JobSequenceName"] for s in steps] == ["0001", "0002"]
    assert list(steps[0]["JobTemplateParameterSet"]) == ["__deferred"]
    assert list(template["JobTemplateParameterSet"]) == ["__deferred"]
    params = {"$expand": "JobTemplateParameterSet"}
    template = get_json(imported, "JobTemplateSet" + KEY, **params).json()["d"]
    assert rows(template["JobTemplateParameterSet"]["results"]) == PARAMETERS
    params = {"$expand": "JobTemplateSequenceSet/JobTemplateParameterSet"}
    template = get_json(imported, "JobTemplateSet" + KEY, **params).json()["d"]
    nested = [p for s in template["JobTemplateSequenceSet"]["results"] for p in s["JobTemplateParameterSet"]["results"]]
    assert rows(nested) == PARAMETERS
    assert template["JobTemplateParamGroupSet"] == {
        "__deferred": {"uri": template["__metadata"]["uri"] + "/JobTemplateParamGroupSet"}
    }


@pytest.mark.parametrize(
    ("path", "names"),
    [
        ("JobTemplateSequenceSet", [["0001", "0002"]]),
        ("JobTemplateParameterSet", [[p[1] for p in PARAMETERS]]),
        (
            "JobTemplateSequenceSet/JobTemplateParameterSet",
            [["DAY     0001", "MODE    0001"], ["MODE    0002", "PLANTS_AREA0002"]],
        ),
    ],
)
def test_expand_paths_in_atom(imported: Tenant, path: str, names: list[list[str]]) -> None:
    entry = get_atom(imported, "JobTemplateSet" + KEY, **{"$expand": path})
    nodes = [entry]
    for name in path.split("/"):
        below = []
        for node in nodes:
            link = next(x for x in node.findall(f"{ATOM}link") if x.get("rel") == RELATED + name)
            feed = link.find(f"{M}inline/{ATOM}feed")
            assert feed is not None, name
            assert feed.findtext(f"{ATOM}title") == name
            below.append(feed.findall(f"{ATOM}entry"))
        nodes = [e for group in below for e in group]
    got = [[e.findtext(f"{ATOM}content/{M}properties/{D}{key_of(path)}") for e in group] for group in below]
    assert got == names


def key_of(path: str) -> str:
    return "JobSequenceName" if path.endswith("SequenceSet") else "JobTemplateParameterName"


def test_sets_read_directly_with_filter_and_options(imported: Tenant) -> None:
    mine = f"JobTemplateName eq '{TEMPLATE}'"
    steps = results(imported, "JobTemplateSequenceSet", **{"$filter": mine, "$inlinecount": "allpages"})
    assert [s["JobSequenceName"] for s in steps] == ["0001", "0002"]
    everyone = results(imported, "JobTemplateSequenceSet")
    assert {s["JobTemplateName"] for s in everyone} > {TEMPLATE}  # the demo templates' steps too
    page = get_json(
        imported, "JobTemplateParameterSet",
        **{"$filter": f"{mine} and JobSequenceName eq '0002'", "$orderby": "JobTemplateParameterName desc",
           "$select": "JobTemplateParameterName", "$top": "1", "$skip": "1", "$inlinecount": "allpages"},
    ).json()["d"]  # fmt: skip
    assert page["__count"] == "2"
    assert [{k: v for k, v in p.items() if k != "__metadata"} for p in page["results"]] == [
        {"JobTemplateParameterName": "MODE    0002"}
    ]
    one = get_json(imported, f"JobTemplateParameterSet(JobTemplateName='{TEMPLATE}',JobTemplateVersion='0',"
                   "JobTemplateParameterName='DAY     0001')").json()["d"]  # fmt: skip
    assert (one["JobSequenceName"], one["JobTempParamMandatoryInd"]) == ("0001", "X")
    step = get_json(imported, "JobTemplateSequenceSet" + SEQ2).json()["d"]
    assert step["JobSequenceText"] == "Report"


@pytest.mark.parametrize(
    "path",
    [
        f"JobTemplateSequenceSet(JobTemplateName='{TEMPLATE}',JobTemplateVersion='0',JobSequenceName='0003')",
        "JobTemplateSequenceSet(JobTemplateName='/ZTEST/NONE',JobTemplateVersion='0',JobSequenceName='0001')",
        f"JobTemplateParameterSet(JobTemplateName='{TEMPLATE}',JobTemplateVersion='0',JobTemplateParameterName='MODE')",
        f"JobTemplateSet{KEY}/JobTemplateSequenceSet(JobTemplateName='{TEMPLATE}',JobTemplateVersion='0',"
        "JobSequenceName='0009')",
        f"JobTemplateSequenceSet(JobTemplateName='{TEMPLATE}',JobTemplateVersion='0',JobSequenceName='0003')"
        "/JobTemplateParameterSet",
    ],
)
def test_missing_key_is_404_as_sap_writes_it(imported: Tenant, path: str) -> None:
    response = get_json(imported, path)
    assert response.status_code == 404, response.text
    error = response.json()["error"]
    assert error["message"]["value"].startswith("Resource not found for the segment 'JobTemplate")


def test_other_navigations_stay_empty(imported: Tenant) -> None:
    for name in ("JobTemplateParamGroupSet", "JobTemplateParamSectionSet"):
        assert results(imported, f"JobTemplateSet{KEY}/{name}") == []
    param = f"(JobTemplateName='{TEMPLATE}',JobTemplateVersion='0',JobTemplateParameterName='DAY     0001')"
    assert results(imported, f"JobTemplateParameterSet{param}/JobTemplateParameterValueDataSet") == []


def test_pyodata_reads_sequences_by_navigation_and_expand(imported: Tenant) -> None:
    client = pyodata.Client(imported.root + "/", imported.session())
    request = client.entity_sets.JobTemplateSet.get_entity(JobTemplateName=TEMPLATE, JobTemplateVersion="0")
    template = request.expand("JobTemplateSequenceSet/JobTemplateParameterSet").execute()
    assert [s.JobSequenceText for s in template.JobTemplateSequenceSet] == ["Load", "Report"]
    nested = [p.JobTemplateParameterName for s in template.JobTemplateSequenceSet for p in s.JobTemplateParameterSet]
    assert nested == [p[1] for p in PARAMETERS]
    steps = template.nav("JobTemplateSequenceSet").get_entities().execute()
    assert [s.JobSequenceName for s in steps] == ["0001", "0002"]
    listed = client.entity_sets.JobTemplateParameterSet.get_entities().filter(f"JobTemplateName eq '{TEMPLATE}'")
    assert [p.JobTemplateParameterName for p in listed.execute()] == [p[1] for p in PARAMETERS]
