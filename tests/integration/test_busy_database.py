"""A scheduler's polls while the database is busy, or cannot answer.

On SQLite a server answers the poll of a caller it knows from the last seconds
(its session cookie, or Basic credentials it verified lately) on its event loop,
from its caches and one read that never waits for a writer (see README,
"A poll from a known caller takes the short way"). So while something holds the
database's write lock (an operator's ``sqlite3`` shell taking a backup, say) and
the requests that write fill every thread of the server's pool waiting for it,
the schedulers polling their jobs keep getting answers. What a client can see of
that: the polls are answered before the lock is let go, and the writes succeed
once it is. And when a read fails, a poll gets the SAP error document any other request gets.
"""

from __future__ import annotations

import base64
import http.client
import json
import sqlite3

import requests
from tenant import Tenant

WRITERS = 60  #: JobSchedule requests that wait for the lock: more than the server pool's 40 threads
ANSWER_WITHIN = 30  #: seconds to wait for a poll while the writers wait: it comes at once, or not before the release


def test_polls_of_known_clients_are_answered_while_writers_wait_for_the_database(tenant: Tenant) -> None:
    http_session = tenant.session()
    job = tenant.schedule(http_session)
    cookies = dict(http_session.cookies.items())
    cookie_header = "; ".join(f"{name}={value}" for name, value in cookies.items())
    token = http_session.headers["X-CSRF-Token"]
    basic = "Basic " + base64.b64encode(f"{tenant.user}:{tenant.password}".encode()).decode()
    host = tenant.server.url.removeprefix("http://")
    path = tenant.root.removeprefix(tenant.server.url)
    poll = f"{path}/JobStatusGet?JobName='{job['JobName']}'&JobRunCount='{job['JobRunCount']}'&$format=json"
    schedule = f"{path}/JobSchedule?JobTemplateName='/APPJOBS/DEMO_ECHO'&$format=json"
    writers = [http.client.HTTPConnection(host, timeout=120) for _ in range(WRITERS)]
    # A client with its cookie, one with Basic credentials only, and one that sends both (as requests.Session does).
    # And a poll in Atom, more than the plain JSON one: answered from the caches too, after a read of the user's state.
    polls = {"cookie": {"Cookie": cookie_header}, "basic": {"Authorization": basic},
             "both": {"Cookie": cookie_header, "Authorization": basic}, "atom": {"Cookie": cookie_header}}  # fmt: skip
    pollers = {name: http.client.HTTPConnection(host, timeout=ANSWER_WITHIN) for name in polls}
    for conn in [*writers, *pollers.values()]:
        conn.connect()
    # The server gets to know both clients: the session's and the password's logon, by the general way.
    info = poll.replace("JobStatusGet", "JobinfoGet")
    assert requests.get(tenant.server.url + info, cookies=cookies, timeout=10).status_code == 200
    assert requests.get(tenant.server.url + info, headers={"Authorization": basic}, timeout=10).status_code == 200

    database = sqlite3.connect(tenant.data_dir / "appjobs.db", isolation_level=None)
    answers: dict[str, int] = {}
    try:
        database.execute("BEGIN IMMEDIATE")  # the write lock, as a sqlite3 shell's backup holds it
        for conn in writers:
            conn.request("POST", schedule, headers={"Cookie": cookie_header, "X-CSRF-Token": token})
        for name, conn in pollers.items():
            conn.request("GET", poll.removesuffix("&$format=json") if name == "atom" else poll, headers=polls[name])
        for name, conn in pollers.items():
            response = conn.getresponse()  # a poll stuck behind the writers times out here
            body = response.read()
            answers[name] = response.status
            assert response.status == 200, body
            assert job["JobName"] in (body.decode() if name == "atom" else json.loads(body)["d"]["JobName"])
    finally:
        database.execute("ROLLBACK")
        database.close()
        http_session.close()
        for conn in pollers.values():
            conn.close()
        # The writers only waited: each is answered, and schedules its job, once the lock is let go.
        statuses = []
        for conn in writers:
            statuses.append(conn.getresponse().status)
            conn.close()
    assert answers == {"cookie": 200, "basic": 200, "both": 200, "atom": 200}
    assert statuses == [200] * WRITERS


def test_a_poll_whose_database_cannot_answer_gets_an_sap_error_document(tenant: Tenant) -> None:
    """Every failure under the service root is an SAP error document, the polls a server knows included."""
    http_session = tenant.session()
    job = tenant.schedule(http_session)
    cookies = dict(http_session.cookies.items())
    poll = f"{tenant.root}/JobStatusGet?JobName='{job['JobName']}'&JobRunCount='{job['JobRunCount']}'"
    info = poll.replace("JobStatusGet", "JobinfoGet")
    database = sqlite3.connect(tenant.data_dir / "appjobs.db", isolation_level=None)
    try:
        for url in (poll + "&$format=json", poll, info):  # the short way, a poll it leaves alone, the general way
            assert requests.get(url, cookies=cookies, timeout=10).status_code == 200  # known to the server now
            database.execute("ALTER TABLE comm_user RENAME TO comm_user_away")  # the user's state cannot be read
            try:
                answer = requests.get(url, cookies=cookies, timeout=10)
            finally:
                database.execute("ALTER TABLE comm_user_away RENAME TO comm_user")
            kind = "application/json" if url.endswith("json") else "application/xml"
            assert (answer.status_code, answer.headers["content-type"].split(";")[0]) == (500, kind), answer.text
            assert "An internal error occurred; the server log has the transaction id" in answer.text, answer.text
    finally:
        database.close()
        http_session.close()
    assert requests.get(poll, cookies=cookies, timeout=10).status_code == 200  # and all is well again
