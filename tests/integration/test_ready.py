"""``/appjobs/ready`` goes red when the last worker dies or the schema is not this code's, and green again after."""

from __future__ import annotations

import os
import pathlib
import signal
from collections.abc import Callable

import pytest
import requests
from conftest import WORKER_ARGS, Processes, Server, wait_for

from appjobs.settings import Paths
from appjobs.storage import Store
from appjobs.storage.database import head_revision

pytestmark = pytest.mark.backends("sqlite", "postgresql")


def _ready(server: Server) -> tuple[int, dict]:
    answer = requests.get(server.url + "/appjobs/ready", timeout=10)
    return answer.status_code, answer.json()


def test_ready_follows_the_workers_and_the_schema(
    start_server: Callable[..., Server], processes: Processes, data_dir: pathlib.Path
) -> None:
    server = start_server("--workers", "0")
    status, body = _ready(server)
    assert status == 503
    assert body["status"] == "not ready"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["migrations"]["ok"] is True
    assert body["checks"]["workers"]["ok"] is False
    assert "no worker alive" in body["checks"]["workers"]["detail"]
    assert requests.get(server.url + "/appjobs/health", timeout=10).status_code == 200  # alive all the same

    worker = processes.start("worker", "--data-dir", str(data_dir), *WORKER_ARGS)
    assert wait_for(lambda: _ready(server)[0] == 200)
    status, body = _ready(server)
    assert body["status"] == "ready"
    assert "1 worker(s) alive" in body["checks"]["workers"]["detail"]

    os.killpg(worker.pid, signal.SIGKILL)  # a crash: no goodbye, its row stays behind
    worker.wait()
    assert wait_for(lambda: _ready(server)[0] == 503)
    processes.start("worker", "--data-dir", str(data_dir), *WORKER_ARGS)
    assert wait_for(lambda: _ready(server)[0] == 200)

    store = Store.open(Paths.resolve(str(data_dir)).database_url, migrate=False)
    try:
        with store.db.write() as conn:
            conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0001'")
        status, body = _ready(server)
        assert status == 503
        assert body["checks"]["migrations"] == {
            "ok": False,
            "detail": f"schema revision 0001; this server needs {head_revision()}",
        }
        assert body["checks"]["workers"]["ok"] is True
    finally:
        with store.db.write() as conn:
            conn.exec_driver_sql(f"UPDATE alembic_version SET version_num = '{head_revision()}'")
        store.close()
