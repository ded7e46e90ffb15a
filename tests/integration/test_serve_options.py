"""Options of ``appjobs serve`` that the README promises, seen from a client: ``--session-idle``.

The idle time is set in minutes; rather than waiting minutes, the test makes
sessions old by moving their last request back in the server's database, as
the passing of time would, and watches the server's answers.
"""

from __future__ import annotations

import datetime as dt
import pathlib
import urllib.parse
from collections.abc import Callable

import pytest
import requests
from conftest import Server, wait_for
from tenant import Tenant, add_users

from appjobs import models
from appjobs.auth import sessions
from appjobs.settings import Paths
from appjobs.storage import Store, schema

pytestmark = pytest.mark.backends("sqlite", "postgresql")
COOKIE = "SAP_SESSIONID_APJ_100"


def open_session(tenant: Tenant) -> tuple[requests.Session, str]:
    """A session logged on once with Basic, then carrying only its cookie; and the session's id."""
    http = tenant.session()
    http.auth = None
    return http, urllib.parse.unquote(http.cookies[COOKIE])


def last_request_ago(store: Store, session_id: str, ago: dt.timedelta) -> None:
    """Make the session's last request *ago* old, as if nothing had been sent since."""
    table = schema.http_session
    with store.db.write() as conn:
        changed = conn.execute(
            table.update()
            .where(table.c.id_hash == sessions.id_hash(session_id))
            .values(last_seen_at=models.utcnow() - ago)
        ).rowcount
    assert changed == 1


def test_session_idle_ends_sessions_unused_longer_than_it(
    start_server: Callable[..., Server], data_dir: pathlib.Path
) -> None:
    """With --session-idle 5, a session unused for 6 minutes ends (401 on its cookie); one unused for 4 lives on."""
    add_users(data_dir)
    tenant = Tenant(start_server("--session-idle", "5"), data_dir)
    stale, stale_id = open_session(tenant)
    fresh, fresh_id = open_session(tenant)
    assert stale.get(tenant.root + "/", timeout=10).status_code == 200
    store = Store.open(Paths.resolve(str(data_dir)).database_url, migrate=False)
    try:
        last_request_ago(store, stale_id, dt.timedelta(minutes=6))
        last_request_ago(store, fresh_id, dt.timedelta(minutes=4))
    finally:
        store.close()
    # A server may trust what it read of a session for a few seconds; the end must come, within a deadline.
    wait_for(lambda: stale.get(tenant.root + "/", timeout=10).status_code == 401, timeout=30, interval=0.5)
    assert fresh.get(tenant.root + "/", timeout=10).status_code == 200


def test_without_session_idle_sessions_end_after_30_minutes_unused(
    start_server: Callable[..., Server], data_dir: pathlib.Path
) -> None:
    """The documented default, SAP's ``http/security_session_timeout``: unused 30½ minutes ends, 29½ lives on."""
    add_users(data_dir)
    tenant = Tenant(start_server(), data_dir)
    stale, stale_id = open_session(tenant)
    fresh, fresh_id = open_session(tenant)
    store = Store.open(Paths.resolve(str(data_dir)).database_url, migrate=False)
    try:
        last_request_ago(store, stale_id, dt.timedelta(minutes=30, seconds=30))
        last_request_ago(store, fresh_id, dt.timedelta(minutes=29, seconds=30))
    finally:
        store.close()
    wait_for(lambda: stale.get(tenant.root + "/", timeout=10).status_code == 401, timeout=30, interval=0.5)
    assert fresh.get(tenant.root + "/", timeout=10).status_code == 200
