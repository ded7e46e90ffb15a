"""Sessions on a real store (SQLite and PostgreSQL): ids and tokens, idle expiry, the lazy idle clock, sweeping."""

from __future__ import annotations

import datetime as dt

import pytest

from appjobs.auth import sessions
from appjobs.storage import Store

pytestmark = pytest.mark.backends("sqlite", "postgresql")


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


def test_open_find_and_token(store: Store) -> None:
    manager = sessions.SessionManager(store)
    session = manager.open("JOBSCHEDULERUSER")
    assert len(session.id) == 44
    assert len(session.csrf_token) == 24
    found = manager.find(session.id)
    assert found == session
    assert found.token_matches(session.csrf_token)
    assert not found.token_matches(None)
    assert not found.token_matches(session.csrf_token[:-1] + "x")
    assert manager.find("no-such-session") is None


def test_only_a_hash_of_the_id_is_stored(store: Store) -> None:
    session = sessions.SessionManager(store).open("U")
    assert store.sessions.get(sessions.id_hash(session.id)) is not None
    assert store.sessions.get(session.id) is None


def test_idle_session_expires(store: Store) -> None:
    clock = Clock()
    manager = sessions.SessionManager(store, idle_timeout=dt.timedelta(minutes=5), clock=clock)
    session = manager.open("U")
    clock.now += dt.timedelta(minutes=4)
    assert manager.find(session.id) is not None  # and this use moves its idle clock on
    clock.now += dt.timedelta(minutes=4)
    assert manager.find(session.id) is not None
    clock.now += dt.timedelta(minutes=6)
    assert manager.find(session.id) is None
    assert store.sessions.get(sessions.id_hash(session.id)) is None


def test_a_session_unused_exactly_its_idle_time_lives_and_a_moment_longer_ends(store: Store) -> None:
    """The idle time is how long a session may go unused: at 5 minutes it is alive, after them it is not."""
    clock = Clock()
    manager = sessions.SessionManager(store, idle_timeout=dt.timedelta(minutes=5), clock=clock)
    alive, ended = manager.open("U"), manager.open("U")
    clock.now += dt.timedelta(minutes=5)
    assert manager.find(alive.id) is not None
    clock.now += dt.timedelta(microseconds=1)
    assert manager.find(ended.id) is None


def test_opening_sweeps_idle_sessions(store: Store) -> None:
    """The table does not grow with dead sessions: an idle one is gone by the 100th session opened after it.

    The first open of a server sweeps, then every 100th; a sweep deletes the idle sessions only.
    """
    clock = Clock()
    manager = sessions.SessionManager(store, idle_timeout=dt.timedelta(minutes=5), clock=clock)
    stale = manager.open("U")  # the first open sweeps (nothing yet), then every 100th
    for _ in range(98):
        manager.open("U")
    alive = manager.open("U")  # the 100th
    clock.now += dt.timedelta(minutes=4)
    assert manager.find(alive.id) is not None  # used, so not idle when the sweep comes
    clock.now += dt.timedelta(minutes=4)
    manager.open("U")  # the 101st: sweeps the sessions idle for more than 5 minutes
    assert store.sessions.get(sessions.id_hash(stale.id)) is None
    assert manager.find(alive.id) is not None
    assert store.sessions.get(sessions.id_hash(alive.id)) is not None


def test_a_sweep_costs_one_delete_per_100_sessions_opened(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Sweeping is lazy: the first open and then every 100th delete idle sessions, not every logon."""
    sweeps = []
    delete_idle = store.sessions.delete_idle
    monkeypatch.setattr(store.sessions, "delete_idle", lambda before: sweeps.append(before) or delete_idle(before))
    manager = sessions.SessionManager(store, clock=Clock())
    for _ in range(250):
        manager.open("U")
    assert len(sweeps) == 3  # at the 1st, 101st and 201st


def test_the_idle_clock_moves_only_after_a_full_minute(store: Store) -> None:
    """Written back when more than 60 s passed since it was last written: not at 30 s nor 60 s, at once after."""
    clock = Clock()
    manager = sessions.SessionManager(store, clock=clock)
    session = manager.open("U")
    opened = clock.now
    for seconds in (30, 30):
        clock.now += dt.timedelta(seconds=seconds)
        assert manager.find(session.id) is not None
        assert store.sessions.get(sessions.id_hash(session.id)).last_seen_at == opened
    clock.now += dt.timedelta(microseconds=1)
    assert manager.find(session.id) is not None
    assert store.sessions.get(sessions.id_hash(session.id)).last_seen_at == clock.now


def test_a_client_polling_with_its_cookie_costs_one_session_read_per_5_seconds(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A session read is trusted for 5 s: a poll every half second for 30 s reads the session 6 times, not 60,
    and so does another client's, polling alongside (each session is remembered, not only the last one read).

    Past a minute the idle clock is due: the poll that finds it so reads (and writes it), and only that one.
    """
    reads = []
    get = store.sessions.get
    monkeypatch.setattr(store.sessions, "get", lambda key: reads.append(key) or get(key))
    clock = Clock()
    manager = sessions.SessionManager(store, clock=clock)
    session, other = manager.open("U"), manager.open("V")
    for _ in range(60):
        assert manager.find(session.id) == session
        assert manager.find(other.id) == other
        clock.now += dt.timedelta(seconds=0.5)
    assert len(reads) == 12
    reads.clear()
    # From 32 s on: reads at 32 s, 37 s, ... 57 s (trusted until 62 s), none at 60 s (the idle clock is 60 s old:
    # not due yet), one at 60.25 s (due: the read writes it).
    clock.now += dt.timedelta(seconds=2)
    for _ in range(114):
        assert manager.find(session.id) == session
        clock.now += dt.timedelta(seconds=0.25)
    assert len(reads) == 6 + 1
    assert store.sessions.get(sessions.id_hash(session.id)).last_seen_at > Clock().now


def test_a_session_ended_by_another_server_is_refused_once_its_5_seconds_of_trust_are_over(store: Store) -> None:
    """Another server (a sweep, a logoff) deleted the row: this one refuses the cookie when its read is 5 s old."""
    clock = Clock()
    manager = sessions.SessionManager(store, clock=clock)
    session = manager.open("U")
    assert manager.find(session.id) is not None  # read, and trusted for 5 s
    sessions.SessionManager(store, clock=clock).end(session.id)  # another process ends it
    clock.now += dt.timedelta(seconds=5)
    assert manager.find(session.id) is None


def test_ending_sessions(store: Store) -> None:
    manager = sessions.SessionManager(store)
    first, second, other = manager.open("A"), manager.open("A"), manager.open("B")
    manager.end(first.id)
    assert manager.find(first.id) is None
    assert store.sessions.delete_user("A") == 1
    assert manager.find(second.id) is None
    assert manager.find(other.id) is not None
