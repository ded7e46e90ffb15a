"""JobHeaderSet over real HTTP: the collection, the entity, ``$expand``, the navigation URLs and scope.

One tenant for the module (:mod:`tenant`), on SQLite and PostgreSQL (the
collection sorts and pages in SQL). A three-step chain (/APPJOBS/DEMO_CHAIN:
echo, sleep, echo) is run once and read every way SAP's model allows.
"""

from __future__ import annotations

import dataclasses
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import defusedxml.ElementTree as SafeET
import pyodata
import pytest
import requests
from tenant import Tenant, admin

from appjobs import models
from appjobs.settings import Paths
from appjobs.storage import Store

pytestmark = pytest.mark.backends("sqlite", "postgresql")

ATOM = "{http://www.w3.org/2005/Atom}"
M = "{http://schemas.microsoft.com/ado/2007/08/dataservices/metadata}"
D = "{http://schemas.microsoft.com/ado/2007/08/dataservices}"
RELATED = "http://schemas.microsoft.com/ado/2007/08/dataservices/related/"
FULL = "JobStepSet/JobStepLogInfoSet/JobLogMessageSet"
ALL_JOBS, ALL_JOBS_PASSWORD = "MONITORUSER", "Monitor-password-77"
JSON = {"Accept": "application/json"}
ABAP_TS = re.compile(r"[0-9]{14}")


@pytest.fixture(scope="module")
def monitor(tenant: Tenant) -> tuple[str, str]:
    """A communication user with an SAP_COM_0326 arrangement: it sees every job."""
    admin(tenant.data_dir, "users", "add", ALL_JOBS, "--password-stdin", "--no-arrangement", input=ALL_JOBS_PASSWORD)
    admin(tenant.data_dir, "systems", "add", "MONITOR", "--host", "monitor.example.com")
    admin(tenant.data_dir, "arrangements", "add", "MONITOR_0326", "--system", "MONITOR", "--user", ALL_JOBS,
          "--scenario", "SAP_COM_0326")  # fmt: skip
    return ALL_JOBS, ALL_JOBS_PASSWORD


@pytest.fixture(scope="module")
def chain(tenant: Tenant) -> dict:
    """A finished DEMO_CHAIN job of the tenant's first user."""
    http = tenant.session()
    job = tenant.schedule(http, "/APPJOBS/DEMO_CHAIN", JobText="'header chain'")
    assert tenant.wait_status(http, job, "FAW", timeout=60) == "F"
    return job


def key(job: dict) -> str:
    return f"(JobName='{job['JobName']}',JobRunCount='{job['JobRunCount']}')"


def get_json(tenant: Tenant, path: str, user: tuple[str, str] | None = None, **params: str) -> requests.Response:
    params = {"$format": "json", **params}
    return requests.get(f"{tenant.root}/{path}", params=params, auth=user or tenant.auth(), timeout=10)


def get_atom(tenant: Tenant, path: str, **params: str) -> ET.Element:
    response = requests.get(f"{tenant.root}/{path}", params=params, auth=tenant.auth(), timeout=10)
    assert response.status_code == 200, response.text
    return SafeET.fromstring(response.content)


def messages_of(header: dict) -> Iterator[dict]:
    for step in header["JobStepSet"]["results"]:
        for info in step["JobStepLogInfoSet"]["results"]:
            yield from info["JobLogMessageSet"]["results"]


def test_header_entity_fields_and_deferred_link(tenant: Tenant, chain: dict) -> None:
    response = get_json(tenant, "JobHeaderSet" + key(chain))
    assert response.status_code == 200, response.text
    header = response.json()["d"]
    assert header["JobName"] == chain["JobName"]
    assert (header["JobStatus"], header["JobStepCount"], header["JobText"]) == ("F", 3, "header chain")
    assert (header["JobTemplateName"], header["JobTemplateText"]) == ("/APPJOBS/DEMO_CHAIN", "Three-step chain")
    assert header["JobCreatedBy"] == tenant.user
    for name in ("JobPlannedStartDateTime", "JobCreaDateTime", "JobStartDateTime", "JobEndDateTime"):
        assert ABAP_TS.fullmatch(header[name]), (name, header[name])
    assert header["JobStartDateTime"] <= header["JobEndDateTime"]
    assert (header["Periodic"], header["JobRestartCount"], header["OrigJobName"], header["JobRunRestartMode"]) == (
        False, 0, "", "",
    )  # fmt: skip
    uri = f"{tenant.root}/JobHeaderSet{key(chain)}/JobStepSet"
    assert header["JobStepSet"] == {"__deferred": {"uri": uri}}


def test_header_entity_in_atom_links_its_steps(tenant: Tenant, chain: dict) -> None:
    entry = get_atom(tenant, "JobHeaderSet" + key(chain))
    links = {link.get("rel"): link for link in entry.findall(f"{ATOM}link")}
    related = links[RELATED + "JobStepSet"]
    assert related.get("href") == f"JobHeaderSet{key(chain)}/JobStepSet"
    assert (related.get("type"), related.get("title")) == ("application/atom+xml;type=feed", "JobStepSet")
    assert related.find(f"{M}inline") is None
    assert entry.findtext(f"{ATOM}content/{M}properties/{D}JobStatus") == "F"


@pytest.mark.parametrize("path", ["JobStepSet", "JobStepSet/JobStepLogInfoSet", FULL])
def test_each_expand_path_in_json(tenant: Tenant, chain: dict, path: str) -> None:
    header = get_json(tenant, "JobHeaderSet" + key(chain), **{"$expand": path}).json()["d"]
    steps = header["JobStepSet"]["results"]
    assert [(s["StepNumber"], s["StepStatus"], s["NrOfLogs"]) for s in steps] == [(1, "F", 1), (2, "F", 1), (3, "F", 1)]
    for step in steps:
        infos = step["JobStepLogInfoSet"]
        if path == "JobStepSet":
            assert infos == {"__deferred": {"uri": step["__metadata"]["uri"] + "/JobStepLogInfoSet"}}
            continue
        (info,) = infos["results"]
        assert len(info["LogHandle"]) == 22
        messages = info["JobLogMessageSet"]
        if path == FULL:
            assert len(messages["results"]) == info["MsgCntAll"] > 0
        else:
            assert list(messages) == ["__deferred"]


@pytest.mark.parametrize("path", ["JobStepSet", "JobStepSet/JobStepLogInfoSet", FULL])
def test_each_expand_path_in_atom(tenant: Tenant, chain: dict, path: str) -> None:
    entry = get_atom(tenant, "JobHeaderSet" + key(chain), **{"$expand": path})
    depth, node = 0, entry
    for name in path.split("/"):
        link = next(x for x in node.findall(f"{ATOM}link") if x.get("rel") == RELATED + name)
        feed = link.find(f"{M}inline/{ATOM}feed")
        assert feed is not None, name
        assert feed.findtext(f"{ATOM}title") == name
        entries = feed.findall(f"{ATOM}entry")
        assert entries, name
        node, depth = entries[0], depth + 1
    assert depth == len(path.split("/"))
    deeper = [x for x in node.findall(f"{ATOM}link") if x.get("rel", "").startswith(RELATED)]
    assert all(x.find(f"{M}inline") is None for x in deeper)  # one level below the path stays deferred


def test_chain_messages_in_order_with_types(tenant: Tenant, chain: dict) -> None:
    """Each step's output line in its step's log, engine messages around them, the job's first and last."""
    header = get_json(tenant, "JobHeaderSet" + key(chain), **{"$expand": FULL}).json()["d"]
    messages = list(messages_of(header))
    texts = [(m["StepNumber"], m["MsgText"]) for m in messages]
    assert (1, "step 1 of 3") in texts
    assert (3, "step 3 of 3") in texts
    assert texts.index((1, "step 1 of 3")) < texts.index((3, "step 3 of 3"))
    first, last = messages[0], messages[-1]
    assert first["StepNumber"] == 1
    assert first["MsgText"].startswith("Job scheduled")
    assert (first["MsgType"], first["MsgV2"], first["MsgV3"]) == ("I", "engine", "JOB")
    assert (last["StepNumber"], last["MsgText"], last["MsgType"], last["MsgV3"]) == (3, "Job finished.", "S", "JOB")
    stamps = [m["MsgV1"] for m in messages]
    assert all(re.fullmatch(r"[0-9]{14}\.[0-9]{7}", s) for s in stamps)
    assert stamps == sorted(stamps)
    for step in header["JobStepSet"]["results"]:
        (info,) = step["JobStepLogInfoSet"]["results"]
        own = info["JobLogMessageSet"]["results"]
        assert [m["MsgNumber"] for m in own] == [f"{n:06d}" for n in range(1, len(own) + 1)]
        counts = {t: sum(m["MsgType"] == t for m in own) for t in "AEWIS"}
        assert {t: info[f"MsgCnt{t}"] for t in "AEWIS"} == counts
        worst = next(t for t in "AEWIS" if counts[t])
        assert info["Severity"] == worst
        assert all(m["LogHandle"] == info["LogHandle"] for m in own)


def test_warning_and_error_types(tenant: Tenant) -> None:
    """DEMO_FAIL's log holds an E message and its log's Severity is E; DEMO_WARN's a W."""
    http = tenant.session()
    for template, status, worst in (("/APPJOBS/DEMO_FAIL", "A", "E"), ("/APPJOBS/DEMO_WARN", "W", "W")):
        job = tenant.schedule(http, template)
        assert tenant.wait_status(http, job, "FAW", timeout=60) == status
        header = get_json(tenant, "JobHeaderSet" + key(job), **{"$expand": FULL}).json()["d"]
        (step,) = header["JobStepSet"]["results"]
        (info,) = step["JobStepLogInfoSet"]["results"]
        assert info["Severity"] == worst, info
        assert worst in {m["MsgType"] for m in info["JobLogMessageSet"]["results"]}


def test_navigation_urls(tenant: Tenant, chain: dict) -> None:
    expanded = get_json(tenant, "JobHeaderSet" + key(chain), **{"$expand": FULL}).json()["d"]
    steps = get_json(tenant, f"JobHeaderSet{key(chain)}/JobStepSet").json()["d"]["results"]
    assert [s["StepNumber"] for s in steps] == [1, 2, 3]
    step_key = f"(JobName='{chain['JobName']}',JobRunCount='{chain['JobRunCount']}',StepNumber=3)"
    step = get_json(tenant, "JobStepSet" + step_key).json()["d"]
    assert (step["StepNumber"], step["JobCatalogEntryText"]) == (3, "Echo")
    infos = get_json(tenant, f"JobStepSet{step_key}/JobStepLogInfoSet").json()["d"]["results"]
    (info,) = infos
    handle = info["LogHandle"]
    info_key = step_key[:-1] + f",LogHandle='{handle}')"
    messages = get_json(tenant, f"JobStepLogInfoSet{info_key}/JobLogMessageSet").json()["d"]["results"]
    step3 = expanded["JobStepSet"]["results"][2]["JobStepLogInfoSet"]["results"][0]["JobLogMessageSet"]["results"]
    assert messages == step3
    # Chained with keys, and in Atom.
    chained = f"JobHeaderSet{key(chain)}/JobStepSet{step_key}/JobStepLogInfoSet"
    assert get_json(tenant, chained).json()["d"]["results"] == infos
    feed = get_atom(tenant, f"JobStepLogInfoSet{info_key}/JobLogMessageSet")
    assert feed.findtext(f"{ATOM}title") == "JobLogMessageSet"
    texts = [e.findtext(f"{ATOM}content/{M}properties/{D}MsgText") for e in feed.findall(f"{ATOM}entry")]
    assert texts == [m["MsgText"] for m in step3]
    # The same handle is computed on every read.
    assert get_json(tenant, "JobStepLogInfoSet" + info_key).json()["d"]["LogHandle"] == handle


@pytest.mark.parametrize(
    ("path", "status", "named"),
    [
        ("JobHeaderSet{key}/JobStepSet/JobStepLogInfoSet", 404, "JobStepLogInfoSet"),
        ("JobHeaderSet{key}/NoSuchSet", 404, "NoSuchSet"),
        ("JobHeaderSet{key}?$expand=JobStepSet/NoSuchNav", 400, "NoSuchNav"),
        ("JobHeaderSet{key}?$expand=NoSuchNav", 400, "NoSuchNav"),
        ("JobStepSet(JobName='{name}',JobRunCount='{run}',StepNumber=9)", 404, "JobStepSet"),
        (
            "JobStepLogInfoSet(JobName='{name}',JobRunCount='{run}',StepNumber=1,LogHandle='X')",
            404,
            "JobStepLogInfoSet",
        ),
        ("JobHeaderSet(JobName='{name}',JobRunCount='NOSUCHRC')", 404, "JobHeaderSet"),
    ],
)
def test_unknown_paths_name_what_is_wrong(tenant: Tenant, chain: dict, path: str, status: int, named: str) -> None:
    path = path.format(key=key(chain), name=chain["JobName"], run=chain["JobRunCount"])
    response = requests.get(
        f"{tenant.root}/{path}", auth=tenant.auth(), timeout=10, headers={"Accept": "application/json"}
    )
    assert response.status_code == status, response.text
    assert named in response.json()["error"]["message"]["value"]


def test_scope_of_collection_entity_and_navigation(tenant: Tenant, chain: dict, monitor: tuple[str, str]) -> None:
    """A SAP_COM_0064 user meets another's job as a missing one everywhere; a SAP_COM_0326 user sees it."""
    other = tenant.auth("OTHERUSER")
    mine = tenant.schedule(tenant.session("OTHERUSER"), "/APPJOBS/DEMO_ECHO")
    listed = {h["JobName"] for h in get_json(tenant, "JobHeaderSet", other).json()["d"]["results"]}
    assert mine["JobName"] in listed
    assert chain["JobName"] not in listed
    missing = get_json(tenant, "JobHeaderSet(JobName='0123456789ABCDEF0123456789ABCDEF',JobRunCount='AAAAAAAA')")
    for path in (f"JobHeaderSet{key(chain)}", f"JobHeaderSet{key(chain)}/JobStepSet", f"JobHeaderSet{key(chain)}"
                 f"?$expand={FULL}", "JobStepSet" + key(chain)[:-1] + ",StepNumber=1)"):  # fmt: skip
        response = requests.get(f"{tenant.root}/{path}", auth=other, timeout=10, headers={"Accept": "application/json"})
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == missing.json()["error"]["code"]
    everyone = {h["JobName"] for h in get_json(tenant, "JobHeaderSet", monitor).json()["d"]["results"]}
    assert {mine["JobName"], chain["JobName"]} <= everyone
    assert get_json(tenant, f"JobHeaderSet{key(chain)}", monitor).status_code == 200


def test_filter_on_string_times_select_order_and_paging(tenant: Tenant, chain: dict) -> None:
    planned = get_json(tenant, "JobHeaderSet" + key(chain)).json()["d"]["JobPlannedStartDateTime"]
    http = tenant.session()
    later = [tenant.schedule(http, "/APPJOBS/DEMO_ECHO", JobText=f"'later {n}'") for n in range(3)]
    since = {"$filter": f"JobPlannedStartDateTime ge '{planned}'", "$select": "JobName,JobText,JobStatus"}
    found = get_json(tenant, "JobHeaderSet", **since).json()["d"]["results"]
    names = [h["JobName"] for h in found]
    assert chain["JobName"] in names
    assert {j["JobName"] for j in later} <= set(names)
    assert set(found[0]) == {"__metadata", "JobName", "JobText", "JobStatus"}
    # At the second boundary, as string comparisons (the server narrows its read in SQL with these).
    for op, included in (("eq", True), ("ge", True), ("le", True), ("gt", False), ("lt", False)):
        both = f"JobPlannedStartDateTime {op} '{planned}' and JobName eq '{chain['JobName']}'"
        reversed_ = f"'{planned}' {op} JobPlannedStartDateTime"
        hits = get_json(tenant, "JobHeaderSet", **{"$filter": both}).json()["d"]["results"]
        assert bool(hits) is included, op
        names = {
            h["JobName"] for h in get_json(tenant, "JobHeaderSet", **{"$filter": reversed_}).json()["d"]["results"]
        }
        assert (chain["JobName"] in names) is (op in ("eq", "ge", "le")), op  # ge and le flip, and both hold
    none = get_json(tenant, "JobHeaderSet", **{"$filter": "JobPlannedStartDateTime lt '19990101000000'"})
    assert none.json()["d"]["results"] == []
    # Paging in SQL (no filter) and while filtering agree with the whole ordered list.
    order = {"$orderby": "JobText desc,JobName", "$select": "JobName,JobText"}
    whole = [h["JobName"] for h in get_json(tenant, "JobHeaderSet", **order).json()["d"]["results"]]
    page = get_json(tenant, "JobHeaderSet", **order, **{"$skip": "1", "$top": "2", "$inlinecount": "allpages"})
    assert [h["JobName"] for h in page.json()["d"]["results"]] == whole[1:3]
    assert page.json()["d"]["__count"] == str(len(whole))
    text_filter = {"$filter": "startswith(JobText,'later')", "$skip": "1", "$top": "1"}
    filtered = get_json(tenant, "JobHeaderSet", **order, **text_filter).json()["d"]["results"]
    assert [h["JobText"] for h in filtered] == ["later 1"]
    by_template = get_json(tenant, "JobHeaderSet", **{"$orderby": "JobTemplateText,JobName", "$top": "1"})
    assert by_template.status_code == 200  # sorted in memory: no column holds the template's text


def test_collection_expands_too(tenant: Tenant, chain: dict) -> None:
    params = {"$filter": f"JobName eq '{chain['JobName']}'", "$expand": "JobStepSet"}
    (header,) = get_json(tenant, "JobHeaderSet", **params).json()["d"]["results"]
    assert len(header["JobStepSet"]["results"]) == 3


def test_pyodata_reads_header_with_expand_and_navigation(tenant: Tenant, chain: dict) -> None:
    client = pyodata.Client(tenant.root + "/", tenant.session())
    request = client.entity_sets.JobHeaderSet.get_entity(JobName=chain["JobName"], JobRunCount=chain["JobRunCount"])
    header = request.expand("JobStepSet").execute()
    assert header.JobStatus == "F"
    assert [s.StepNumber for s in header.JobStepSet] == [1, 2, 3]
    steps = header.nav("JobStepSet").get_entities().execute()  # the navigation URL, as pyodata builds it
    assert [s.StepNumber for s in steps] == [1, 2, 3]
    listed = client.entity_sets.JobHeaderSet.get_entities().filter(f"JobName eq '{chain['JobName']}'").execute()
    assert [h.JobRunCount for h in listed] == [chain["JobRunCount"]]


def test_restart_lineage_fields(tenant: Tenant, chain: dict) -> None:
    """A copy that restarts a job (stored as JobRestart stores it) shows its origin and how many restarts lead to it."""
    store = Store.open_existing(Paths.resolve(str(tenant.data_dir)).database_url)
    original = models.JobKey(chain["JobName"], chain["JobRunCount"])
    try:
        keys = [original]
        for mode in ("E", "A"):
            job = store.jobs.get(keys[-1])
            copy = dataclasses.replace(job, key=models.JobKey.new(), restart_of=keys[-1], restart_mode=mode)
            steps = [dataclasses.replace(step, key=copy.key) for step in store.jobs.steps(keys[-1])]
            store.jobs.create(copy, steps, {})
            keys.append(copy.key)
    finally:
        store.close()
    for depth, key_ in enumerate(keys):
        path = f"JobHeaderSet(JobName='{key_.name}',JobRunCount='{key_.run_count}')"
        header = get_json(tenant, path).json()["d"]
        origin = keys[depth - 1] if depth else None
        assert header["JobRestartCount"] == depth
        assert (header["OrigJobName"], header["OrigJobCount"]) == (
            (origin.name, origin.run_count) if origin else ("", "")
        )
        assert header["JobRunRestartMode"] == ("", "E", "A")[depth]
