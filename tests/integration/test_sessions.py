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


def test_idle_clock_is_written_at_most_once_a_minute(store: Store) -> None:
    clock = Clock()
    manager = sessions.SessionManager(store, clock=clock)
    session = manager.open("U")
    opened = clock.now
    clock.now += dt.timedelta(seconds=30)
    manager.find(session.id)
    assert store.sessions.get(sessions.id_hash(session.id)).last_seen_at == opened
    clock.now += dt.timedelta(seconds=31)
    manager.find(session.id)
    assert store.sessions.get(sessions.id_hash(session.id)).last_seen_at == clock.now


def test_opening_sweeps_idle_sessions(store: Store) -> None:
    clock = Clock()
    manager = sessions.SessionManager(store, idle_timeout=dt.timedelta(minutes=5), clock=clock)
    stale = manager.open("U")  # the first open sweeps (nothing yet), then every SWEEP_EVERY-th
    for _ in range(sessions.SWEEP_EVERY - 1):
        manager.open("U")
    clock.now += dt.timedelta(minutes=10)
    manager.open("U")
    assert store.sessions.get(sessions.id_hash(stale.id)) is None


def test_ending_sessions(store: Store) -> None:
    manager = sessions.SessionManager(store)
    first, second, other = manager.open("A"), manager.open("A"), manager.open("B")
    manager.end(first.id)
    assert manager.find(first.id) is None
    assert store.sessions.delete_user("A") == 1
    assert manager.find(second.id) is None
    assert manager.find(other.id) is not None
