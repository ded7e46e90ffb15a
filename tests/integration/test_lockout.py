"""Locking a communication user after failed logons, on a real ``appjobs serve --max-failed-logons 3``.

What a scheduler (or an attacker) sees: every refusal looks the same, the
right password of a locked user included; sessions end with the lock; an
administrator's ``appjobs admin users unlock`` lets the user in again. And
what is counted: one failure per request, reset by a successful logon.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
from collections.abc import Callable

import pytest
import requests
from conftest import APPJOBS, Server
from tenant import ROOT_PATH, USERS, add_users

from appjobs.settings import Paths
from appjobs.storage import Store

pytestmark = pytest.mark.backends("sqlite", "postgresql")

MAX_FAILED = 3
USER, PASSWORD = next(iter(USERS.items()))
OTHER = list(USERS)[1]


#: Headers that differ between any two answers: the time, and the request id (x-correlationid).
PER_REQUEST = frozenset({"date", "x-correlationid"})


@pytest.fixture
def server(start_server: Callable[..., Server], data_dir: pathlib.Path) -> Server:
    add_users(data_dir)
    return start_server("--max-failed-logons", str(MAX_FAILED))


def root(server: Server) -> str:
    return server.url + ROOT_PATH + "/"


def logon(server: Server, password: str, user: str = USER) -> requests.Response:
    return requests.get(root(server), auth=(user, password), timeout=10)


def fail(server: Server, times: int) -> None:
    for _ in range(times):
        assert logon(server, "not-the-password").status_code == 401


def admin(data_dir: pathlib.Path, *args: str) -> str:
    done = subprocess.run(
        [*APPJOBS, "admin", "users", *args, "--data-dir", str(data_dir)], capture_output=True, text=True, check=True
    )
    return done.stdout


def user_state(data_dir: pathlib.Path, name: str = USER) -> tuple[bool, int]:
    """(locked, failed logons) of *name*, as ``appjobs admin users list`` reports them."""
    found = {u["name"]: u for u in json.loads(admin(data_dir, "list", "--json"))}
    return found[name]["locked"], found[name]["failed_logons"]


def shape(response: requests.Response) -> tuple[int, dict[str, str], bytes]:
    """Everything a client can see of a response, but what differs per request: the date and the request id."""
    headers = {k.lower(): v for k, v in response.headers.items() if k.lower() not in PER_REQUEST}
    return response.status_code, headers, response.content


def test_locked_user_is_refused_like_a_wrong_password_until_unlocked(server: Server, data_dir: pathlib.Path) -> None:
    fail(server, MAX_FAILED - 1)
    assert user_state(data_dir) == (False, MAX_FAILED - 1)
    wrong = logon(server, "not-the-password")
    assert user_state(data_dir)[0] is True
    right = logon(server, PASSWORD)
    assert shape(right) == shape(wrong)
    assert right.status_code == 401
    # An unknown user looks the same too: nothing tells which names exist, or which are locked.
    assert shape(logon(server, "whatever", user="NOSUCHUSER")) == shape(wrong)
    assert logon(server, USERS[OTHER], user=OTHER).status_code == 200  # one user's lock is its own

    admin(data_dir, "unlock", USER)
    assert user_state(data_dir) == (False, 0)
    assert logon(server, PASSWORD).status_code == 200


def test_failures_count_once_per_request_and_a_logon_resets_them(server: Server, data_dir: pathlib.Path) -> None:
    fail(server, 2)
    assert user_state(data_dir) == (False, 2)
    assert logon(server, PASSWORD).status_code == 200
    assert user_state(data_dir) == (False, 0)
    fail(server, 2)
    assert user_state(data_dir) == (False, 2)
    assert logon(server, PASSWORD).status_code == 200


def test_a_logon_from_the_password_cache_resets_failures_too(server: Server, data_dir: pathlib.Path) -> None:
    """Failures in between a cached success and the next success do not add up across it."""
    assert logon(server, PASSWORD).status_code == 200  # verified with argon2, and remembered
    fail(server, 2)
    assert logon(server, PASSWORD).status_code == 200  # checked anew: a failure drops the cached verification
    assert user_state(data_dir) == (False, 0)


def test_lock_ends_the_sessions_opened_before_it(server: Server, data_dir: pathlib.Path) -> None:
    http = requests.Session()
    fetched = http.head(root(server), auth=(USER, PASSWORD), headers={"X-CSRF-Token": "Fetch"}, timeout=10)
    assert fetched.status_code == 200
    token = fetched.headers["x-csrf-token"]
    assert http.get(root(server), timeout=10).status_code == 200  # the cookie alone logs on
    fail(server, MAX_FAILED)
    assert user_state(data_dir)[0] is True
    assert http.get(root(server), timeout=10).status_code == 401
    params = {"JobTemplateName": "'/APPJOBS/DEMO_ECHO'", "$format": "json"}
    scheduled = http.post(root(server) + "JobSchedule", params=params, headers={"X-CSRF-Token": token}, timeout=10)
    assert scheduled.status_code == 401


def lockouts(data_dir: pathlib.Path) -> list[dict[str, str]]:
    """The lockout entries of the audit log, as ``appjobs admin audit --json`` shows them."""
    command = [*APPJOBS, "admin", "audit", "--json", "--since", "2000-01-01", "--data-dir", str(data_dir)]
    entries = json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
    return [e for e in entries if e["event"] == "lockout"]


def test_wrong_passwords_below_the_limit_leave_sessions_alone_and_the_lockout_ends_them(
    server: Server, data_dir: pathlib.Path
) -> None:
    """A wrong password is no lockout: the user's sessions go on, nothing is audited as one. The last one is."""
    http = requests.Session()
    fetched = http.head(root(server), auth=(USER, PASSWORD), headers={"X-CSRF-Token": "Fetch"}, timeout=10)
    params = {"JobTemplateName": "'/APPJOBS/DEMO_ECHO'", "$format": "json"}
    headers = {"X-CSRF-Token": fetched.headers["x-csrf-token"]}
    job = http.post(root(server) + "JobSchedule", params=params, headers=headers, timeout=10).json()["d"]
    poll = f"{root(server)}JobStatusGet?JobName='{job['JobName']}'&JobRunCount='{job['JobRunCount']}'&$format=json"
    info = poll.replace("JobStatusGet", "JobinfoGet")

    for _ in range(MAX_FAILED - 1):
        assert (http.get(info, timeout=10).status_code, http.get(poll, timeout=10).status_code) == (200, 200)
        fail(server, 1)
        assert (http.get(poll, timeout=10).status_code, http.get(info, timeout=10).status_code) == (200, 200)
    assert lockouts(data_dir) == []

    fail(server, 1)
    assert (http.get(poll, timeout=10).status_code, http.get(info, timeout=10).status_code) == (401, 401)
    [lockout] = lockouts(data_dir)
    assert (lockout["user_name"], lockout["detail"]) == (USER, f"locked after {MAX_FAILED} failed logons")


def test_a_server_started_without_the_option_locks_at_the_fifth_failure(
    start_server: Callable[..., Server], data_dir: pathlib.Path
) -> None:
    """The documented default: four wrong passwords in a row are forgiven by a good one, the fifth locks."""
    add_users(data_dir)
    server = start_server()
    fail(server, 4)
    assert logon(server, PASSWORD).status_code == 200
    fail(server, 5)
    assert user_state(data_dir)[0] is True
    assert logon(server, PASSWORD).status_code == 401


def test_a_user_whose_stored_hash_is_no_argon2_hash_is_refused_like_a_wrong_password(
    server: Server, data_dir: pathlib.Path
) -> None:
    """A garbled hash in the database (a bad restore, another tool's format) refuses the logon with 401, not 500.

    The refusal counts as a failed logon, as a wrong password does, and the other users go on logging on.
    """
    store = Store.open(Paths.resolve(str(data_dir)).database_url, migrate=False)
    try:
        store.users.set_password(USER, "$2b$12$not-an-argon2-hash-at-all")
    finally:
        store.close()
    wrong = logon(server, "not-the-password", user=OTHER)
    garbled = logon(server, PASSWORD)
    assert shape(garbled) == shape(wrong)
    assert garbled.status_code == 401
    assert user_state(data_dir) == (False, 1)
    assert logon(server, USERS[OTHER], user=OTHER).status_code == 200
