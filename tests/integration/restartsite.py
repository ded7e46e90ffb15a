"""Chains that fail on purpose, for the JobRestart tests: each step leaves a trace a test can read.

:func:`chain` imports a three-step template into a running tenant whose steps
append a line to a file of their own in a folder of the test (``step1``,
``step2``, ``step3``: what ran, how often, in which job, with which
parameter value). The failing step counts its attempts in ``tries`` and fails
until it has been tried *passes_on* times, so "fails the first time only" is
``passes_on=2``. The same helpers call JobRestart and read what is stored.
"""

from __future__ import annotations

import contextlib
import pathlib
import secrets
from collections.abc import Iterator

import requests
from tenant import Tenant, admin

from appjobs import models
from appjobs.settings import Paths
from appjobs.storage import Store

STEP = """
[[template.step]]
text = "Step {n}"
command = '''echo "$APPJOBS_JOB_NAME $AREA_{n}" >> {folder}/step{n}{fail}'''
parameters = {{ AREA_{n} = "default{n}" }}
pass_env = ["RESTART_TEST_{n}"]
"""
#: Appended to the failing step's command: count the attempt, fail until the attempts reach PASSES_ON.
FAIL = "; echo x >> {folder}/tries; test $(wc -l < {folder}/tries) -ge {passes_on}"
#: ... or, for a step to cancel: sleep the first time only.
HANG = "; if [ ! -e {folder}/slept ]; then touch {folder}/slept; sleep 120; fi"
#: ... or fail the first time, and sleep every time after (a restarted copy to cancel).
FAIL_THEN_HANG = (
    "; echo x >> {folder}/tries; test $(wc -l < {folder}/tries) -ge 2 || exit 1; touch {folder}/slept; sleep 120"
)
SUFFIXES = {"fail": FAIL, "hang": HANG, "fail_then_hang": FAIL_THEN_HANG}


class Chain:
    """A template imported for one test, and the folder its steps write to."""

    def __init__(self, name: str, folder: pathlib.Path) -> None:
        self.name = name
        self.folder = folder

    def lines(self, step: int) -> list[str]:
        """What step *step* wrote, one line per run: ``JOBNAME VALUE``."""
        path = self.folder / f"step{step}"
        return path.read_text().splitlines() if path.exists() else []


def chain(tenant: Tenant, tmp_path: pathlib.Path, *, failing: int = 2, passes_on: int = 2, how: str = "fail") -> Chain:
    """Import a three-step chain whose step *failing* fails until its *passes_on*-th attempt (*how* = fail),
    sleeps the first time only (hang), or fails the first time and sleeps after (fail_then_hang)."""
    folder = tmp_path / "traces"
    folder.mkdir()
    name = f"/T/RESTART_{secrets.token_hex(4).upper()}"
    steps = [
        STEP.format(
            n=n,
            folder=folder,
            fail=SUFFIXES[how].format(folder=folder, passes_on=passes_on) if n == failing else "",
        )
        for n in (1, 2, 3)
    ]
    toml = tmp_path / "chain.toml"
    toml.write_text(f'[[template]]\nname = "{name}"\ntext = "Restart test chain"\n' + "".join(steps))
    admin(tenant.data_dir, "templates", "import", str(toml))
    return Chain(name, folder)


def restart(
    tenant: Tenant, http: requests.Session, job: dict, mode: str | None, fmt: str = "json"
) -> requests.Response:
    """POST JobRestart for *job* with JobRestartMode *mode* (None: left out)."""
    params = {"JobName": f"'{job['JobName']}'", "JobRunCount": f"'{job['JobRunCount']}'"}
    if mode is not None:
        params["JobRestartMode"] = f"'{mode}'"
    if fmt == "json":
        params["$format"] = "json"
    return http.post(f"{tenant.root}/JobRestart", params=params, timeout=10)


def restarted(tenant: Tenant, http: requests.Session, job: dict, mode: str) -> dict:
    """JobRestart that must work: the copy's JobScheduleStatus (``d``)."""
    response = restart(tenant, http, job, mode)
    assert response.status_code == 200, response.text
    return response.json()["d"]


def jobinfo(tenant: Tenant, http: requests.Session, job: dict) -> list[dict]:
    """JobinfoGet's rows for *job*, one per step."""
    params = {"JobName": f"'{job['JobName']}'", "JobRunCount": f"'{job['JobRunCount']}'", "$format": "json"}
    response = http.get(f"{tenant.root}/JobinfoGet", params=params, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["d"]["results"]


def step_statuses(tenant: Tenant, http: requests.Session, job: dict) -> str:
    """The steps' status letters in order, e.g. ``"KFF"``."""
    return "".join(row["StepStatus"] for row in sorted(jobinfo(tenant, http, job), key=lambda r: r["StepCount"]))


@contextlib.contextmanager
def stored(tenant: Tenant) -> Iterator[Store]:
    """The tenant's store, opened in the test's process (the backend the server uses)."""
    store = Store.open_existing(Paths.resolve(str(tenant.data_dir)).database_url)
    try:
        yield store
    finally:
        store.close()


def key(job: dict) -> models.JobKey:
    return models.JobKey(job["JobName"], job["JobRunCount"])


def error(response: requests.Response) -> tuple[str, str, list[str]]:
    """Code, message and errordetail messages of a JSON SAP error document (HTTP 400)."""
    assert response.status_code == 400, response.text
    document = response.json()["error"]
    details = [d["message"] for d in document["innererror"]["errordetails"]]
    return document["code"], document["message"]["value"], details
