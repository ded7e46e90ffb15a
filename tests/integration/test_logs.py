"""Logs for a log stack: ``--log-format json`` makes every line on stderr one JSON object, and the request id
(``x-correlationid``) ties an answer to its log lines and its audit entries."""

from __future__ import annotations

import datetime as dt
import json
import logging
import pathlib
from collections.abc import Callable

import requests
from conftest import Server, wait_for
from tenant import ROOT_PATH, USERS, add_users

from appjobs import logs, models
from appjobs.settings import Paths
from appjobs.storage import Store


def _json_lines(server: Server) -> list[dict]:
    lines = [line for line in server.output().splitlines() if line.strip()]
    return [json.loads(line) for line in lines]  # every line must parse


def test_json_logs_tie_an_answer_to_its_log_line_and_audit_entry(
    start_server: Callable[..., Server], data_dir: pathlib.Path
) -> None:
    add_users(data_dir)
    server = start_server("--log-format", "json")
    user, password = next(iter(USERS.items()))
    root = server.url + ROOT_PATH + "/"
    fetched = requests.head(root, auth=(user, password), headers={"X-CSRF-Token": "Fetch", "x-correlationid":
                            "control-m.run-4711"}, timeout=10)  # fmt: skip
    assert fetched.status_code == 200
    assert fetched.headers["x-correlationid"] == "control-m.run-4711"  # the scheduler's own id comes back
    refused = requests.get(root, auth=(user, "not-the-password"), timeout=10)
    assert refused.status_code == 401
    made = refused.headers["x-correlationid"]
    assert len(made) == 32
    int(made, 16)  # a new id: 32 hex digits

    def logged() -> list[dict]:
        return [line for line in _json_lines(server) if line.get("request_id") in {"control-m.run-4711", made}]

    found = wait_for(lambda: len(logged()) >= 2)
    assert found
    lines = {line["request_id"]: line for line in logged()}
    assert lines["control-m.run-4711"]["user"] == user
    assert lines["control-m.run-4711"]["logger"] == "appjobs.audit"
    assert lines["control-m.run-4711"]["message"] == "audit logon success: password"
    assert lines[made]["message"] == "audit logon failure: wrong password"
    assert {"time", "level", "logger", "message"} <= set(lines[made])
    assert any("appjobs serving at" in line["message"] for line in _json_lines(server))
    store = Store.open_existing(Paths.resolve(str(data_dir)).database_url)
    try:
        audited = {e.request_id: e for e in store.audit.since(models.utcnow() - dt.timedelta(hours=1))}
    finally:
        store.close()
    assert audited["control-m.run-4711"].outcome == "success"
    assert audited[made].detail == "wrong password"


def test_an_insane_correlation_id_is_replaced_not_echoed(start_server: Callable[..., Server]) -> None:
    server = start_server()
    for given in ("", "x" * 65, "a b", "evil\\nINFO forged", "<script>"):
        answer = requests.get(server.url + ROOT_PATH + "/", headers={"x-correlationid": given}, timeout=10)
        assert answer.status_code == 401
        assert answer.headers["x-correlationid"] != given
        assert len(answer.headers["x-correlationid"]) == 32
    page = requests.get(server.url + "/appjobs/ui/", headers={"x-correlationid": "ui-1"}, timeout=10)
    assert page.headers["x-correlationid"] == "ui-1"  # the web pages name their requests too


def test_text_lines_name_the_bound_fields_and_json_lines_the_exception() -> None:
    record = logging.LogRecord("appjobs.x", logging.ERROR, __file__, 1, "went %s", ("wrong",), None)
    before = logs.current("request_id")  # what an in-process app of another test bound here, if any
    with logs.bound(request_id="r1", job="J/1", user=None):
        text = logs.TextFormatter().format(record)
        line = json.loads(logs.JsonFormatter().format(record))
    assert text.endswith("appjobs.x: went wrong [request_id=r1 job=J/1]")
    assert line["request_id"] == "r1"
    assert line["job"] == "J/1"
    assert "user" not in line
    assert logs.current("request_id") == before  # as it was, after the block
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        failed = logging.LogRecord("appjobs.x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    assert "ValueError: boom" in json.loads(logs.JsonFormatter().format(failed))["exception"]
