"""Credential changes take effect at once, on a server that is running and has everything cached.

A scheduler's server remembers what it verified: sessions for a few seconds,
passwords it checked for a minute, a user's scope for a few seconds. None of
that may outlive a change an administrator makes with ``appjobs admin``, in
another process: once ``users reset-password``, ``users lock`` or
``arrangements remove`` has returned, the old password, the user's sessions
and sessions opened with the old password get 401 on the very next request,
whichever way the server answers it (the poll it answers from its caches,
or the general way). And an unlock does not bring old sessions back.

Each test has a communication user of its own on the module's server, and
warms the server's caches right before the change (a request by the general
way, then a poll), as a scheduler polling every few seconds does.
"""

from __future__ import annotations

import base64
import dataclasses
import itertools
import json

import pytest
import requests
from conftest import wait_for
from tenant import Tenant, admin

pytestmark = pytest.mark.backends("sqlite", "postgresql")

_numbers = itertools.count(1)
COOKIE = "SAP_SESSIONID_APJ_100"


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@dataclasses.dataclass
class Scheduler:
    """A communication user of its own (with its SAP_COM_0064 arrangement) on the module's server."""

    tenant: Tenant
    name: str
    password: str

    @classmethod
    def new(cls, tenant: Tenant) -> Scheduler:
        name, password = f"CRED{next(_numbers)}", f"Password-of-cred-{next(_numbers)}"
        admin(tenant.data_dir, "users", "add", name, "--password-stdin", input=password + "\n")
        return cls(tenant, name, password)

    def basic(self, password: str | None = None) -> dict[str, str]:
        return basic(self.name, self.password if password is None else password)

    def logon(self, password: str | None = None) -> Session:
        """A token fetch with Basic credentials, as a scheduler starts: the session's cookie and token."""
        fetched = requests.head(self.tenant.root + "/", headers={"X-CSRF-Token": "Fetch"} | self.basic(password))
        assert fetched.status_code == 200, fetched.status_code
        return Session(self.tenant, {COOKIE: fetched.cookies[COOKIE]}, fetched.headers["x-csrf-token"])

    def admin(self, *args: str, input: str = "") -> None:
        admin(self.tenant.data_dir, *args, input=input)


@dataclasses.dataclass
class Session:
    """A session cookie (and its CSRF token), sent without Basic credentials."""

    tenant: Tenant
    cookies: dict[str, str]
    token: str

    def get(self, path: str, headers: dict[str, str] | None = None) -> int:
        return requests.get(self.tenant.root + path, cookies=self.cookies, headers=headers, timeout=10).status_code

    def schedule(self) -> dict:
        params = {"JobTemplateName": "'/APPJOBS/DEMO_ECHO'", "$format": "json"}
        headers = {"X-CSRF-Token": self.token}
        answer = requests.post(self.tenant.root + "/JobSchedule", params=params, headers=headers,
                               cookies=self.cookies, timeout=10)  # fmt: skip
        return {"status": answer.status_code, **(answer.json()["d"] if answer.status_code == 200 else {})}


def poll(job: dict) -> str:
    """The path of a plain JSON poll of *job*: the request a server answers from its caches when it can."""
    return f"/JobStatusGet?JobName='{job['JobName']}'&JobRunCount='{job['JobRunCount']}'&$format=json"


def info(job: dict) -> str:
    """The path of JobinfoGet for *job*: always the general way."""
    return f"/JobinfoGet?JobName='{job['JobName']}'&JobRunCount='{job['JobRunCount']}'&$format=json"


def get(tenant: Tenant, path: str, headers: dict[str, str]) -> int:
    return requests.get(tenant.root + path, headers=headers, timeout=10).status_code


def warm(session: Session, job: dict) -> None:
    """Fill the server's caches with *session* (read by the general way), then use them (a poll)."""
    assert session.get(info(job)) == 200
    assert session.get(poll(job)) == 200


def warm_basic(user: Scheduler, job: dict, password: str | None = None) -> None:
    """Have the server verify *user*'s password (general way), then answer a poll from its caches with it."""
    assert get(user.tenant, info(job), user.basic(password)) == 200
    assert get(user.tenant, poll(job), user.basic(password)) == 200


@pytest.fixture
def user(tenant: Tenant) -> Scheduler:
    return Scheduler.new(tenant)


def test_old_password_is_refused_right_after_reset_password(user: Scheduler) -> None:
    """The verified-password cache, the session opened with it and its poll: all 401 once the reset returned."""
    session = user.logon()
    job = session.schedule()
    warm(session, job)
    warm_basic(user, job)

    new_password = "A-new-password-" + user.name
    user.admin("users", "reset-password", user.name, "--password-stdin", input=new_password + "\n")

    assert get(user.tenant, poll(job), user.basic()) == 401  # the poll that the caches would answer
    assert get(user.tenant, info(job), user.basic()) == 401
    assert (session.get(poll(job)), session.get(info(job)), session.schedule()["status"]) == (401, 401, 401)
    fetched = requests.head(user.tenant.root + "/", headers={"X-CSRF-Token": "Fetch"} | user.basic())
    assert (fetched.status_code, COOKIE in fetched.cookies) == (401, False)  # no new session with the old password
    assert get(user.tenant, poll(job), user.basic(new_password)) == 200
    assert user.logon(new_password).get(poll(job)) == 200


def test_a_session_opened_with_a_cached_password_ends_with_the_reset(user: Scheduler) -> None:
    """A session opened from the verified-password cache (no argon2) carries the version the password had."""
    first = user.logon()
    job = first.schedule()
    warm_basic(user, job)
    opened_from_cache = user.logon()  # verified lately: the server does not check the hash again
    warm(opened_from_cache, job)

    user.admin("users", "reset-password", user.name, "--password-stdin", input="Yet-another-password-1\n")

    assert (opened_from_cache.get(poll(job)), opened_from_cache.get(info(job))) == (401, 401)
    assert opened_from_cache.schedule()["status"] == 401


def test_lock_ends_sessions_and_cached_logons_and_unlock_does_not_bring_them_back(user: Scheduler) -> None:
    session = user.logon()
    job = session.schedule()
    warm_basic(user, job)
    warm(session, job)

    user.admin("users", "lock", user.name)

    assert (session.get(poll(job)), session.get(info(job)), session.schedule()["status"]) == (401, 401, 401)
    assert (get(user.tenant, poll(job), user.basic()), get(user.tenant, info(job), user.basic())) == (401, 401)

    user.admin("users", "unlock", user.name)

    assert (session.get(poll(job)), session.get(info(job)), session.schedule()["status"]) == (401, 401, 401)
    assert get(user.tenant, poll(job), user.basic()) == 200  # the password itself is good again
    assert user.logon().get(poll(job)) == 200


def test_removing_the_arrangement_ends_sessions_at_once(user: Scheduler) -> None:
    session = user.logon()
    job = session.schedule()
    warm_basic(user, job)
    warm(session, job)

    user.admin("arrangements", "remove", f"{user.name}_0064")

    assert (session.get(poll(job)), session.get(info(job)), session.schedule()["status"]) == (401, 401, 401)
    assert get(user.tenant, poll(job), user.basic()) == 401

    user.admin("arrangements", "add", f"{user.name}_AGAIN", "--system", f"{user.name}_SYSTEM", "--user", user.name)
    assert session.get(poll(job)) == 401  # the session ended; the user may log on anew
    assert get(user.tenant, poll(job), user.basic()) == 200


def test_a_wrong_password_soon_after_a_good_logon_is_refused(user: Scheduler) -> None:
    """The cache of verified passwords answers only for the very password it verified."""
    job = user.logon().schedule()
    warm_basic(user, job)
    wrong = "not-" + user.password
    assert get(user.tenant, poll(job), user.basic(wrong)) == 401
    warm_basic(user, job)
    assert get(user.tenant, info(job), user.basic(wrong)) == 401
    assert get(user.tenant, "/", user.basic(wrong)) == 401


@pytest.mark.parametrize("path", [poll, info], ids=["poll", "general"])
def test_a_session_cookie_with_another_users_basic_credentials_logs_on_as_that_user(tenant: Tenant, path) -> None:
    """A's cookie with B's Basic credentials is B's request (401 if B's password is wrong), never A's."""
    owner, other = Scheduler.new(tenant), Scheduler.new(tenant)
    session = owner.logon()
    owners_job = session.schedule()
    others_job = other.logon().schedule()
    for password, expected in ((other.password, 400), ("not-" + other.password, 401)):
        warm(session, owners_job)
        answer = requests.get(tenant.root + path(owners_job), cookies=session.cookies, headers=other.basic(password))
        assert answer.status_code == expected, answer.text  # 400: APJ_RT/003, B does not see A's job
        if expected == 400:
            assert answer.json()["error"]["code"] == "APJ_RT/003"
    warm(session, owners_job)
    assert session.get(path(others_job), other.basic()) == 200  # B's own job, with A's cookie beside


def test_a_new_arrangement_widens_the_scope_of_a_running_servers_users(tenant: Tenant) -> None:
    """A user given SAP_COM_0326 sees every job within seconds, even polling from the server's caches."""
    owner, monitor = Scheduler.new(tenant), Scheduler.new(tenant)
    job = owner.logon().schedule()
    assert get(tenant, info(job), monitor.basic()) == 400
    assert get(tenant, poll(job), monitor.basic()) == 400  # APJ_RT/003: not its job
    monitor.admin("arrangements", "add", f"{monitor.name}_0326", "--scenario", "SAP_COM_0326",
                  "--system", f"{monitor.name}_SYSTEM", "--user", monitor.name)  # fmt: skip
    # Polls only, answered from the caches while the server trusts them: the scope must still be read anew
    # within a few seconds, well before the password the server verified (a minute) would be checked again.
    wait_for(lambda: get(tenant, poll(job), monitor.basic()) == 200, timeout=20, interval=0.2)


def test_right_passwords_of_a_user_without_arrangement_do_not_lock_it(user: Scheduler) -> None:
    """Refused for want of an arrangement is no failed logon: given one later, the user logs on at once."""
    job = user.logon().schedule()
    user.admin("arrangements", "remove", f"{user.name}_0064")
    for _ in range(7):  # more than any lockout limit the module's server may have
        assert get(user.tenant, info(job), user.basic()) == 401
    user.admin("arrangements", "add", f"{user.name}_AGAIN", "--system", f"{user.name}_SYSTEM", "--user", user.name)
    assert get(user.tenant, info(job), user.basic()) == 200


def test_a_locked_users_right_password_is_audited_as_refused_even_when_verified_lately(user: Scheduler) -> None:
    """Every refused logon leaves an audit entry that says why, also when the server had the password verified."""
    job = user.logon().schedule()
    warm_basic(user, job)
    user.admin("users", "lock", user.name)
    assert get(user.tenant, info(job), user.basic()) == 401
    done = admin(user.tenant.data_dir, "audit", "--json", "--since", "2000-01-01")
    refusals = [e for e in json.loads(done.stdout) if e["user_name"] == user.name and e["outcome"] == "failure"]
    assert [e["detail"] for e in refusals] == ["locked, or no communication arrangement"]


def test_a_password_verified_lately_is_not_verified_and_audited_again(user: Scheduler) -> None:
    """Within the cache time a cookie-less Basic client is logged on from what the server verified: one logon."""
    job = user.logon().schedule()  # a token fetch with Basic credentials: the one verified, audited logon
    for _ in range(3):
        warm_basic(user, job)
    done = admin(user.tenant.data_dir, "audit", "--json", "--since", "2000-01-01")
    logons = [e for e in json.loads(done.stdout) if e["user_name"] == user.name and e["event"] == "logon"]
    assert [e["outcome"] for e in logons] == ["success"]


def test_after_a_lock_the_general_way_then_a_poll_with_the_password_are_both_refused(user: Scheduler) -> None:
    """The order a scheduler's requests come in does not matter: after a lock, every one of them gets 401."""
    session, other_session = user.logon(), user.logon()
    job = session.schedule()
    warm_basic(user, job)
    warm(session, job)
    warm(other_session, job)
    user.admin("users", "lock", user.name)
    assert session.get(info(job)) == 401  # the general way first: it learns that the user may not log on
    assert (get(user.tenant, poll(job), user.basic()), session.get(poll(job))) == (401, 401)
    assert other_session.get(poll(job)) == 401
    assert get(user.tenant, info(job), user.basic()) == 401


def test_a_poll_in_atom_right_after_a_lock_is_refused(user: Scheduler) -> None:
    """A poll that is more than the plain JSON one (here: Atom, the default format) is refused after a lock too."""
    session = user.logon()
    job = session.schedule()
    warm_basic(user, job)
    warm(session, job)
    atom = poll(job).removesuffix("&$format=json")
    assert (session.get(atom), get(user.tenant, atom, user.basic())) == (200, 200)
    user.admin("users", "lock", user.name)
    assert (session.get(atom), get(user.tenant, atom, user.basic())) == (401, 401)
