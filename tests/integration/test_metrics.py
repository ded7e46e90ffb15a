"""``/appjobs/metrics`` of a real server after a known mix of jobs and logons: the exact counts, in a valid format.

Every line of every scrape is parsed with ``prometheus_client.parser``.
The counts come from three places (the worker's files, the server's own
HTTP counts, the database at scrape time), and each is checked.
"""

from __future__ import annotations

import pathlib
import subprocess
from collections.abc import Callable

import pytest
import requests
from conftest import WORKER_ARGS, Processes, Server, free_port, wait_for
from prometheus_client.parser import text_string_to_metric_families
from tenant import ROOT_PATH, USERS, add_users

from appjobs.auth import users
from appjobs.settings import Paths
from appjobs.storage import Store

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
TOKEN = "metrics-token-for-the-tests-0123456789"


def scrape(url: str, **kwargs: object) -> Samples:
    answer = requests.get(url, timeout=10, **kwargs)  # type: ignore[arg-type]
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples: Samples = {}
    for family in text_string_to_metric_families(answer.text):  # raises on any line that is not the format
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


class OData:
    def __init__(self, server: Server, user: str) -> None:
        self.root = server.url + ROOT_PATH
        self.http = requests.Session()
        self.http.auth = (user, USERS[user])
        token = self.http.head(self.root + "/", headers={"X-CSRF-Token": "Fetch"}, timeout=10)
        self.http.headers["X-CSRF-Token"] = token.headers["x-csrf-token"]

    def schedule(self, template: str, **params: str) -> tuple[str, str]:
        query = {"JobTemplateName": f"'{template}'", "$format": "json", **params}
        job = self.http.post(self.root + "/JobSchedule", params=query, timeout=10).json()["d"]
        return job["JobName"], job["JobRunCount"]

    def status(self, key: tuple[str, str]) -> str:
        params = {"JobName": f"'{key[0]}'", "JobRunCount": f"'{key[1]}'", "$format": "json"}
        return self.http.get(self.root + "/JobStatusGet", params=params, timeout=10).json()["d"]["JobStatus"]


def test_a_scrape_counts_jobs_logons_and_requests_exactly(
    start_server: Callable[..., Server], data_dir: pathlib.Path
) -> None:
    add_users(data_dir)
    server = start_server()
    odata = OData(server, "JOBSCHEDULERUSER")
    finished, failed = odata.schedule("/APPJOBS/DEMO_ECHO"), odata.schedule("/APPJOBS/DEMO_FAIL")
    sleeping = odata.schedule("/APPJOBS/DEMO_SLEEP", SECONDS="'60'")
    wait_for(lambda: odata.status(sleeping) == "R")
    cancel = {"JobName": f"'{sleeping[0]}'", "JobRunCount": f"'{sleeping[1]}'", "$format": "json"}
    assert odata.http.post(odata.root + "/JobCancel", params=cancel, timeout=10).status_code == 200
    keys = [finished, failed, sleeping]
    wait_for(lambda: all(odata.status(k) in {"F", "A", "C"} for k in keys), timeout=30)
    final = [odata.status(k) for k in keys]
    for _ in range(5):  # OTHERUSER is locked by the fifth
        assert requests.get(odata.root + "/", auth=("OTHERUSER", "wrong-password"), timeout=10).status_code == 401
    assert requests.get(odata.root + "/", auth=("JOBSCHEDULERUSER", "wrong"), timeout=10).status_code == 401

    samples = scrape(server.url + "/appjobs/metrics")  # loopback, no token: open
    for letter in set(final):
        assert value(samples, "appjobs_jobs_finished_total", status=letter) == final.count(letter), letter
    assert value(samples, "appjobs_jobs_finished_total", status="F") == 1
    assert value(samples, "appjobs_job_start_delay_seconds_count") == 3
    assert value(samples, "appjobs_step_duration_seconds_count") == 3
    assert value(samples, "appjobs_logon_failures_total", face="odata") == 6
    assert value(samples, "appjobs_lockouts_total", face="odata") == 1
    assert value(samples, "appjobs_jobs", status="F", template="/APPJOBS/DEMO_ECHO") == 1
    assert value(samples, "appjobs_jobs", status=final[1], template="/APPJOBS/DEMO_FAIL") == 1
    assert value(samples, "appjobs_http_requests_total", resource="JobSchedule", method="POST", status="200") == 3
    assert value(samples, "appjobs_http_requests_total", resource="JobCancel", method="POST", status="200") == 1
    assert value(samples, "appjobs_http_requests_total", resource="", method="GET", status="401") == 6
    polls = value(samples, "appjobs_http_request_duration_seconds_count", resource="JobStatusGet")
    assert polls == value(samples, "appjobs_http_requests_total", resource="JobStatusGet", method="GET", status="200")
    assert polls >= 4
    assert value(samples, "appjobs_sessions_open", face="odata") == 1
    workers = [k for k in samples if k[0] == "appjobs_worker_slots"]
    assert {dict(labels)["state"] for _, labels in workers} == {"busy", "free"}
    assert sum(samples[k] for k in workers) == 2  # serve's worker: concurrency 2, as conftest's tests run it


@pytest.mark.usefixtures("initialised")
def test_beyond_loopback_the_metrics_need_the_token_or_a_ui_administrator(
    start_server: Callable[..., Server], data_dir: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store.open_existing(Paths.resolve(str(data_dir)).database_url)
    try:
        users.add_business_user(store, "OPS", password="Ops-password-of-the-tests", role="administrator")
        users.add_business_user(store, "LOOKER", password="Looker-password-of-tests", role="viewer")
    finally:
        store.close()
    closed = start_server("--host", "0.0.0.0")
    refused = requests.get(closed.url + "/appjobs/metrics", timeout=10)
    assert refused.status_code == 401
    assert "no metrics token" in refused.text
    monkeypatch.setenv("APPJOBS_METRICS_TOKEN", TOKEN)
    server = start_server("--host", "0.0.0.0")
    assert requests.get(server.url + "/appjobs/metrics", timeout=10).status_code == 401
    wrong = {"Authorization": "Bearer " + TOKEN[:-1] + "x"}
    assert requests.get(server.url + "/appjobs/metrics", headers=wrong, timeout=10).status_code == 401
    scrape(server.url + "/appjobs/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    from uisite import Page

    admin = Page(server.url)
    assert admin.logon("OPS", "Ops-password-of-the-tests").status_code == 200
    assert "appjobs_http_requests_total" in admin.get("/metrics").text
    viewer = Page(server.url)
    assert viewer.logon("LOOKER", "Looker-password-of-tests").status_code == 200
    assert viewer.get("/metrics").status_code == 403
    assert value(scrape(server.url + "/appjobs/metrics", headers={"Authorization": f"Bearer {TOKEN}"}),
                 "appjobs_sessions_open", face="ui") == 2  # fmt: skip


def test_output_past_the_cap_is_counted_in_bytes(start_server: Callable[..., Server], data_dir: pathlib.Path) -> None:
    from appjobs import models
    from appjobs.engine import templates

    add_users(data_dir)
    store = Store.open_existing(Paths.resolve(str(data_dir)).database_url)
    try:
        text = (
            '[[template]]\nname = "/T/LOUD"\ntext = "Loud"\n[[template.step]]\ncommand = "head -c 3145728 /dev/zero"\n'
        )
        store.templates.add(templates.parse(text, source="loud.toml", by="TEST", now=models.utcnow()))
    finally:
        store.close()
    server = start_server("--max-step-output", "1")
    odata = OData(server, "JOBSCHEDULERUSER")
    job = odata.schedule("/T/LOUD")
    wait_for(lambda: odata.status(job) in {"F", "A"}, timeout=30)
    samples = scrape(server.url + "/appjobs/metrics")
    assert value(samples, "appjobs_step_output_dropped_bytes_total") == 3 * 1024 * 1024 - 1024 * 1024


def test_a_worker_without_serve_on_its_host_serves_its_own_metrics(
    start_server: Callable[..., Server], data_dir: pathlib.Path, processes: Processes
) -> None:
    add_users(data_dir)
    server = start_server("--workers", "0")
    port = free_port()
    processes.start("worker", "--data-dir", str(data_dir), *WORKER_ARGS, "--metrics-port", str(port))
    odata = OData(server, "JOBSCHEDULERUSER")
    job = odata.schedule("/APPJOBS/DEMO_ECHO")
    wait_for(lambda: odata.status(job) == "F", timeout=30)
    samples = scrape(f"http://127.0.0.1:{port}/")
    assert value(samples, "appjobs_jobs_finished_total", status="F") == 1
    assert value(samples, "appjobs_step_duration_seconds_count") == 1
    busy = processes.start("worker", "--data-dir", str(data_dir), "--metrics-port", str(port),
                           stderr=subprocess.PIPE)  # fmt: skip
    _, stderr = busy.communicate(timeout=30)
    assert busy.returncode == 2
    assert f"cannot serve metrics on 127.0.0.1:{port}" in stderr
