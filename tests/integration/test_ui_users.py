"""UI users: business users with a password and a role, made by ``appjobs admin business-users``, logged on by UiAuth.

The commands run as real subprocesses; the logons run in this process
against the same database (SQLite and PostgreSQL), with a clock the tests
move, so that idle timeouts need no waiting.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import pathlib
from typing import Any

import pytest
from commcli import listing, run, snapshot

from appjobs import errors, models
from appjobs.auth import users
from appjobs.auth.sessions import TOUCH_EVERY
from appjobs.auth.ui import Role, UiAuth, UiSession
from appjobs.storage import Store

pytestmark = pytest.mark.usefixtures("initialised")
PASSWORD, OTHER = "A-long-ui-password-1", "Another-ui-password-2"


class Clock:
    def __init__(self) -> None:
        self.now = models.utcnow()

    def __call__(self) -> dt.datetime:
        return self.now


def logged_on(store: Store, user: str, role: str, **options: Any) -> tuple[UiAuth, UiSession]:
    """A new UI user *user* with :data:`PASSWORD`, logged on through a UiAuth made with *options*."""
    users.add_business_user(store, user, password=PASSWORD, role=role)
    auth = UiAuth(store, **options)
    session = auth.logon(user, PASSWORD)
    assert session is not None
    return auth, session


def clocked_logon(
    store: Store, user: str, role: str, idle: dt.timedelta = dt.timedelta(minutes=30)
) -> tuple[UiAuth, Clock, UiSession]:
    """A new UI user *user* logged on through a UiAuth whose clock the test moves."""
    clock = Clock()
    auth, session = logged_on(store, user, role, idle_timeout=idle, clock=clock)
    return auth, clock, session


def _stored(data_dir: pathlib.Path) -> Store:
    from appjobs.settings import Paths

    return Store.open_existing(Paths.resolve(str(data_dir)).database_url)


def test_business_users_add_with_a_password_and_role_makes_a_ui_user(data_dir: pathlib.Path) -> None:
    done = run("business-users", "add", "planner", "--password-stdin", "--role", "Operator", data_dir=data_dir,
               stdin=PASSWORD + "\n")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == "business user PLANNER added (UI role operator)\n"
    store = _stored(data_dir)
    try:
        session = UiAuth(store).logon("planner", PASSWORD, "127.0.0.1")
        assert session is not None
        assert (session.user, session.role) == ("PLANNER", Role.OPERATOR)
        assert UiAuth(store).logon("PLANNER", OTHER) is None
    finally:
        store.close()


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["--role", "viewer"], "", "--password-stdin and --role go together"),
        (["--password-stdin"], PASSWORD, "--password-stdin and --role go together"),
        (["--password-stdin", "--role", "viewer"], "short", "at least 12 characters"),
        (["--password-stdin", "--role", "root"], PASSWORD, "'root' is not one of"),
    ],
)
def test_a_bad_ui_user_is_refused_by_name_and_nothing_is_stored(
    data_dir: pathlib.Path, args: list[str], stdin: str, message: str
) -> None:
    before = snapshot(data_dir)
    done = run("business-users", "add", "PLANNER", *args, data_dir=data_dir, stdin=stdin)
    assert done.returncode != 0
    assert message in done.stderr
    assert snapshot(data_dir) == before


def test_set_logon_lock_and_unlock(data_dir: pathlib.Path) -> None:
    assert run("business-users", "add", "CB1", data_dir=data_dir).returncode == 0
    store = _stored(data_dir)
    try:
        assert UiAuth(store).logon("CB1", PASSWORD) is None  # a business user without a password is no UI user
        done = run("business-users", "set-logon", "CB1", "--password-stdin", "--role", "viewer", data_dir=data_dir,
                   stdin=PASSWORD)  # fmt: skip
        assert done.returncode == 0, done.stderr
        session = UiAuth(store).logon("CB1", PASSWORD)
        assert session is not None
        assert session.role is Role.VIEWER
        assert run("business-users", "lock", "CB1", data_dir=data_dir).stdout == "business user CB1 locked\n"
        assert UiAuth(store).find(session.id) is None  # the lock ended the open session
        assert UiAuth(store).logon("CB1", PASSWORD) is None
        assert run("business-users", "unlock", "CB1", data_dir=data_dir).returncode == 0
        assert UiAuth(store).logon("CB1", PASSWORD) is not None
    finally:
        store.close()
    changes = [e["detail"] for e in listing("audit", data_dir=data_dir) if e["detail"].startswith("business user CB1")]
    assert changes == [
        "business user CB1: UI password set, role viewer",
        "business user CB1: UI logon locked",
        "business user CB1: UI logon unlocked",
    ]
    missing = run("business-users", "lock", "NOBODY", data_dir=data_dir)
    assert missing.returncode != 0
    assert "business user NOBODY doesn't exist" in missing.stderr


@pytest.mark.backends("sqlite", "postgresql")
def test_sessions_end_when_idle_or_when_the_role_changes(store: Store) -> None:
    auth, clock, session = clocked_logon(store, "OPS", "operator")
    clock.now += dt.timedelta(minutes=29)
    assert auth.find(session.id) == session  # within the timeout; the idle clock moves on
    clock.now += dt.timedelta(minutes=29)
    assert auth.find(session.id) == session
    clock.now += dt.timedelta(minutes=31)
    assert auth.find(session.id) is None  # idle too long
    second = auth.logon("OPS", PASSWORD)
    assert second is not None
    users.set_ui_logon(store, "OPS", OTHER, "administrator")
    assert auth.find(second.id) is None  # a new password or role ends what the old one opened
    third = auth.logon("OPS", OTHER)
    assert third is not None
    assert third.role is Role.ADMINISTRATOR


@pytest.mark.backends("sqlite", "postgresql")
def test_lockout_counts_wrong_passwords_in_a_row_and_audits_it(store: Store) -> None:
    users.add_business_user(store, "GUESSED", password=PASSWORD, role="viewer")
    auth = UiAuth(store, max_failed=3)
    assert auth.logon("GUESSED", "wrong-1") is None
    assert auth.logon("GUESSED", PASSWORD) is not None  # a success resets the count
    for attempt in range(3):
        assert auth.logon("GUESSED", f"wrong-{attempt}") is None
    assert auth.logon("GUESSED", PASSWORD) is None  # locked
    events = [(e.event, e.outcome, e.detail) for e in store.audit.since(models.utcnow() - dt.timedelta(hours=1))]
    assert ("ui-lockout", "failure", "locked after 3 failed logons") in events
    assert events.count(("ui-logon", "failure", "wrong password")) == 4
    assert auth.logon("NOBODY", PASSWORD) is None
    assert ("ui-logon", "failure", "unknown user, or not a UI user") in [
        (e.event, e.outcome, e.detail) for e in store.audit.since(models.utcnow() - dt.timedelta(hours=1))
    ]


def test_roles_include_the_ones_below() -> None:
    assert Role.ADMINISTRATOR.may(Role.OPERATOR)
    assert Role.OPERATOR.may(Role.VIEWER)
    assert not Role.OPERATOR.may(Role.ADMINISTRATOR)
    assert not Role.VIEWER.may(Role.OPERATOR)


def test_a_unknown_business_user_cannot_get_a_password(store: Store) -> None:
    with pytest.raises(errors.NotFound, match="business user GHOST doesn't exist"):
        users.set_ui_logon(store, "GHOST", PASSWORD, "viewer")


def test_a_ui_password_needs_twelve_characters_and_twelve_are_enough(store: Store) -> None:
    with pytest.raises(errors.InvalidInput, match="at least 12 characters"):
        users.add_business_user(store, "SHORT", password="x" * 11, role="viewer")
    users.add_business_user(store, "JUST", password="x" * 12, role="viewer")
    assert UiAuth(store).logon("JUST", "x" * 12) is not None


def test_a_role_is_read_in_any_case_and_an_unknown_one_is_refused_by_name(store: Store) -> None:
    with pytest.raises(errors.InvalidInput, match=r"'root' is not a role \(viewer, operator, administrator\)"):
        users.add_business_user(store, "ROOTED", password=PASSWORD, role="root")
    users.add_business_user(store, "ADMIN2", password=PASSWORD, role="ADMINISTRATOR")
    session = UiAuth(store).logon("ADMIN2", PASSWORD)
    assert session is not None
    assert session.role is Role.ADMINISTRATOR


def test_session_ids_and_csrf_tokens_are_long_random_secrets(store: Store) -> None:
    users.add_business_user(store, "SECRETS", password=PASSWORD, role="viewer")
    first, second = UiAuth(store).logon("SECRETS", PASSWORD), UiAuth(store).logon("SECRETS", PASSWORD)
    assert first is not None
    assert second is not None
    assert len(base64.urlsafe_b64decode(first.id + "=")) == 32  # 256 bits, as the service's sessions
    assert len(base64.urlsafe_b64decode(first.csrf_token)) == 24  # 192 bits
    assert first.id != second.id
    assert first.csrf_token != second.csrf_token


def test_a_session_lives_exactly_its_idle_timeout_counted_from_the_last_touch(store: Store) -> None:
    auth, clock, session = clocked_logon(store, "IDLER", "viewer")
    clock.now += TOUCH_EVERY  # not more than TOUCH_EVERY since the logon: the session is not touched
    assert auth.find(session.id) == session
    clock.now += dt.timedelta(minutes=30) - TOUCH_EVERY + dt.timedelta(microseconds=1)
    assert auth.find(session.id) is None  # idle since the logon, one microsecond past the timeout
    second = auth.logon("IDLER", PASSWORD)
    assert second is not None
    clock.now += dt.timedelta(minutes=30)
    assert auth.find(second.id) == second  # exactly the timeout: still alive


def test_only_the_failure_that_locks_audits_a_lockout_and_a_locked_users_tries_are_not_counted(store: Store) -> None:
    users.add_business_user(store, "TRIED", password=PASSWORD, role="viewer")
    auth = UiAuth(store, max_failed=3)
    for attempt in range(2):
        assert auth.logon("TRIED", f"wrong-{attempt}") is None
    assert _lockouts(store) == 0
    assert auth.logon("TRIED", "wrong-2") is None
    assert _lockouts(store) == 1
    for _ in range(2):
        assert auth.logon("TRIED", PASSWORD) is None  # locked: refused, and not counted as a wrong password
    assert auth.logon("TRIED", "wrong-3") is None  # counted, but it does not lock again
    assert _lockouts(store) == 1
    assert [u.failed_logons for u in store.ui_users.list() if u.id == "TRIED"] == [4]


def test_logons_to_a_business_user_without_a_ui_password_count_nothing_against_it(store: Store) -> None:
    users.add_business_user(store, "LATER")
    auth = UiAuth(store, max_failed=3)
    for _ in range(4):
        assert auth.logon("LATER", PASSWORD) is None
    assert [(u.locked, u.failed_logons) for u in store.ui_users.list() if u.id == "LATER"] == [(False, 0)]
    users.set_ui_logon(store, "LATER", PASSWORD, "viewer")
    assert auth.logon("LATER", PASSWORD) is not None


def _lockouts(store: Store) -> int:
    return [e.event for e in store.audit.since(models.utcnow() - dt.timedelta(hours=1))].count("ui-lockout")


def test_a_logon_that_read_the_user_before_an_administrator_changed_it_gets_no_lasting_session(store: Store) -> None:
    """The race the credential version closes: the password is checked, a new one is set, then the session opens."""
    users.add_business_user(store, "RACED", password=PASSWORD, role="operator")
    auth = UiAuth(store)
    read = store.ui_users.credentials("RACED")  # what logon() read and checked
    assert read is not None
    users.set_ui_logon(store, "RACED", OTHER, "viewer")  # ends every session opened so far: none yet
    late = auth._open("RACED", Role.OPERATOR, read.version)  # the rest of that logon, after the change
    assert auth.find(late.id) is None


def test_a_role_without_a_password_is_no_ui_logon(store: Store) -> None:
    users.add_business_user(store, "ROLEONLY")
    store.ui_users.set_role("ROLEONLY", "administrator")
    assert UiAuth(store).logon("ROLEONLY", PASSWORD) is None
    assert UiAuth(store).logon("ROLEONLY", "") is None


def _stored_session(store: Store, session_id: str) -> object:
    """The session's row as the store keeps it (by the SHA-256 of its id), without touching it."""
    return store.ui_users.session(hashlib.sha256(session_id.encode()).hexdigest())


def test_a_logon_clears_away_sessions_idle_for_more_than_a_day_and_only_those(store: Store) -> None:
    auth, clock, first = clocked_logon(store, "LONGDAY", "viewer", dt.timedelta(days=3))  # sessions kept for days
    clock.now += dt.timedelta(days=1)
    second = auth.logon("LONGDAY", PASSWORD)  # the first is idle exactly a day: kept
    assert second is not None
    assert _stored_session(store, first.id) is not None
    clock.now += dt.timedelta(microseconds=1)
    assert auth.logon("LONGDAY", PASSWORD) is not None  # now it is more than a day: gone
    assert _stored_session(store, first.id) is None
    assert _stored_session(store, second.id) is not None
    assert auth.find(second.id) == second


def test_a_wrong_password_leaves_the_open_sessions_and_the_lockout_ends_them(store: Store) -> None:
    auth, session = logged_on(store, "CAREFUL", "operator", max_failed=3)
    for attempt in range(2):
        assert auth.logon("CAREFUL", f"typo-{attempt}") is None
        assert auth.find(session.id) == session
    assert auth.logon("CAREFUL", "typo-2") is None
    assert _stored_session(store, session.id) is None


def test_a_new_password_and_an_unlock_forget_the_failed_logons(store: Store) -> None:
    users.add_business_user(store, "FORGIVEN", password=PASSWORD, role="viewer")
    auth = UiAuth(store, max_failed=3)

    def state() -> list[tuple[bool, int]]:
        return [(u.locked, u.failed_logons) for u in store.ui_users.list() if u.id == "FORGIVEN"]

    for _ in range(2):
        assert auth.logon("FORGIVEN", "not-it") is None
    assert state() == [(False, 2)]
    users.set_ui_logon(store, "FORGIVEN", OTHER, "viewer")
    assert state() == [(False, 0)]
    for _ in range(3):
        assert auth.logon("FORGIVEN", "not-it") is None
    assert state() == [(True, 3)]
    users.set_ui_locked(store, "FORGIVEN", False)
    assert state() == [(False, 0)]
    session = auth.logon("FORGIVEN", OTHER)  # under the credential version that the changes moved on
    assert session is not None
    assert auth.find(session.id) == session


def test_a_logon_forgets_its_own_users_failed_logons_and_nobody_elses(store: Store) -> None:
    users.add_business_user(store, "SLIPPY", password=PASSWORD, role="viewer")
    users.add_business_user(store, "STEADY", password=PASSWORD, role="viewer")
    auth = UiAuth(store, max_failed=5)
    for _ in range(2):
        assert auth.logon("SLIPPY", "not-it") is None
    assert auth.logon("STEADY", PASSWORD) is not None
    assert {u.id: u.failed_logons for u in store.ui_users.list()}["SLIPPY"] == 2
    assert auth.logon("SLIPPY", PASSWORD) is not None
    assert {u.id: u.failed_logons for u in store.ui_users.list()}["SLIPPY"] == 0
    assert auth.logon("SLIPPY", "not-it") is None  # a single failure is forgotten as well
    assert auth.logon("SLIPPY", PASSWORD) is not None
    assert {u.id: u.failed_logons for u in store.ui_users.list()}["SLIPPY"] == 0


def test_a_new_role_ends_the_sessions_opened_under_the_old_one(store: Store) -> None:
    auth, session = logged_on(store, "DEMOTED", "administrator")
    store.ui_users.set_role("DEMOTED", "viewer")
    assert auth.find(session.id) is None
    again = auth.logon("DEMOTED", PASSWORD)
    assert again is not None
    assert again.role is Role.VIEWER


def test_an_unlock_does_not_bring_back_the_sessions_the_lock_ended(store: Store) -> None:
    auth, session = logged_on(store, "PAUSED", "operator")
    users.set_ui_locked(store, "PAUSED", True)
    users.set_ui_locked(store, "PAUSED", False)  # before the session was used again
    assert auth.find(session.id) is None


def test_an_unlock_of_a_user_not_locked_forgets_its_failures_and_keeps_its_sessions(store: Store) -> None:
    """An administrator's unlock after a few wrong passwords resets the count; the user's open session goes on."""
    auth, session = logged_on(store, "FUMBLER", "operator", max_failed=5)
    for _ in range(3):
        assert auth.logon("FUMBLER", "not-it") is None
    users.set_ui_locked(store, "FUMBLER", False)
    assert {u.id: u.failed_logons for u in store.ui_users.list()}["FUMBLER"] == 0
    assert auth.find(session.id) is not None
