"""A running tenant for the scope tests: ``appjobs serve`` with users of every kind of communication arrangement.

Besides :data:`tenant.USERS` (SAP_COM_0064 each) and :data:`tenant.BUSINESS_USERS`,
the data directory gets, before the server starts, through ``appjobs admin``:

* ``ALLJOBS``: a system and an SAP_COM_0326 arrangement (sees every job);
* ``NOARRANGEMENT``: a user without any arrangement (cannot log on);
* ``LEAVER``: an SAP_COM_0064 user whose arrangement a test removes;
* the demo templates, and :data:`RESTRICTED` templates limited to some business users.
"""

from __future__ import annotations

import json
import pathlib
import re
from collections.abc import Iterator

import pytest
import requests
from conftest import DEMO, Processes, Server, free_port, wait_for
from tenant import USERS, Tenant, add_users, admin

ALL_JOBS, NO_ARRANGEMENT, LEAVER = "ALLJOBS", "NOARRANGEMENT", "LEAVER"
PASSWORDS = USERS | {ALL_JOBS: "All-jobs-password-3", NO_ARRANGEMENT: "No-arrangement-pw-4", LEAVER: "Leaving-pw-555"}
OWNER, INTRUDER = list(USERS)  # OWNER creates jobs, INTRUDER (SAP_COM_0064 too) tries to touch them
RESTRICTED = """
[[template]]
name = "/T/RESTRICTED"
text = "Only for business user CB8980000030"
business_users = ["CB8980000030"]
[[template.step]]
command = "true"

[[template]]
name = "/T/OWN"
text = "Only for JOBSCHEDULERUSER"
business_users = ["JOBSCHEDULERUSER"]
[[template.step]]
command = "true"
"""
KEYED = ("JobStatusGet", "JobinfoGet", "JobCancel", "JobAbort")
POSTED = frozenset({"JobCancel", "JobAbort", "JobSchedule"})


class Site(Tenant):
    """A :class:`Tenant` that knows the passwords of the extra users too."""

    def auth(self, user: str | None = None) -> tuple[str, str]:
        user = user or self.user
        return user, PASSWORDS[user]

    def call(
        self, http: requests.Session, function: str, job: dict | None = None, fmt: str = "json", **params: str
    ) -> requests.Response:
        """Call function import *function* for *job* (its JobName and JobRunCount), in *fmt*."""
        if job is not None:
            params |= {"JobName": f"'{job['JobName']}'", "JobRunCount": f"'{job['JobRunCount']}'"}
        if fmt == "json":
            params["$format"] = "json"
        method = "POST" if function in POSTED else "GET"
        return http.request(method, f"{self.root}/{function}", params=params, timeout=10)

    def job_list(self, http: requests.Session, **filters: str) -> list[dict]:
        """The rows JobListGet answers, for any creation time."""
        response = self.call(http, "JobListGet", **filters)
        assert response.status_code == 200, response.text
        return response.json()["d"]["results"]

    def audit(self, since: str = "2000-01-01") -> tuple[str, list[dict]]:
        """``appjobs admin audit --json --since SINCE``: the raw output and the entries."""
        out = admin(self.data_dir, "audit", "--json", "--since", since).stdout
        return out, json.loads(out)

    def job(self, job: dict) -> dict:
        """``appjobs admin jobs show --json`` of *job*: what is stored, JobUser (``job_user``) included."""
        return json.loads(admin(self.data_dir, "jobs", "show", job["JobName"], job["JobRunCount"], "--json").stdout)


#: Headers that differ between any two answers: the time, and the request id (x-correlationid).
PER_REQUEST = frozenset({"date", "x-correlationid"})


def error_code(response: requests.Response) -> str:
    """The code of a JSON SAP error document."""
    assert response.status_code == 400, response.text
    return response.json()["error"]["code"]


def shape(response: requests.Response) -> tuple[int, dict[str, str], bytes]:
    """Everything a client sees of a response but the date, the transaction id and the timestamp."""
    headers = {k.lower(): v for k, v in response.headers.items() if k.lower() not in PER_REQUEST}
    body = re.sub(rb'(transactionid(?:>|":"))[0-9A-F]{32}', rb"\1<id>", response.content)
    body = re.sub(rb'(timestamp(?:>|":"))\d{14}\.\d{7}', rb"\1<time>", body)
    return response.status_code, headers, body


def prepare(data_dir: pathlib.Path) -> None:
    """The users, arrangements, business users and templates of :class:`Site`, made with ``appjobs admin``."""
    add_users(data_dir)
    admin(data_dir, "templates", "import", str(DEMO))
    restricted = data_dir.parent / "restricted.toml"
    restricted.write_text(RESTRICTED)
    admin(data_dir, "templates", "import", str(restricted))
    admin(data_dir, "users", "add", ALL_JOBS, "--password-stdin", "--no-arrangement", input=PASSWORDS[ALL_JOBS])
    admin(data_dir, "systems", "add", "MONITOR", "--host", "monitor.example.com")
    admin(data_dir, "arrangements", "add", "ALLJOBS_0326", "--system", "MONITOR", "--user", ALL_JOBS,
          "--scenario", "SAP_COM_0326")  # fmt: skip
    admin(data_dir, "users", "add", NO_ARRANGEMENT, "--password-stdin", "--no-arrangement",
          input=PASSWORDS[NO_ARRANGEMENT])  # fmt: skip
    admin(data_dir, "users", "add", LEAVER, "--password-stdin", input=PASSWORDS[LEAVER])


def running_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """``appjobs serve`` on a data directory made by :func:`prepare`, until the generator is closed."""
    base = tmp_path_factory.mktemp("scope")
    data_dir = base / "data"
    prepare(data_dir)
    port, log, processes = free_port(), base / "serve.log", Processes()
    with log.open("w") as stderr:
        proc = processes.start("serve", "--data-dir", str(data_dir), "--port", str(port), "--grace", "1", stderr=stderr)
    server = Server(proc, port, log)
    try:
        wait_for(lambda: server.healthy() or proc.poll() is not None)
        assert proc.poll() is None, f"serve exited: {server.output()}"
        yield Site(server, data_dir)
    finally:
        processes.kill_all()
