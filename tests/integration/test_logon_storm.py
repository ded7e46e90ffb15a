"""A storm of bad logons: the server checks a few passwords at a time, and keeps answering its good clients.

Each argon2id check holds 19 MiB while it runs. Sixty bad Basic logons sent
at once must not run sixty checks at once (the server's memory would grow by
a gigabyte and stay there): they wait their turn, a few at a time, and they
wait *outside* the server's thread pool, so that a client with a session is
answered at once, not after the storm. What a client can see of that: the
server's memory (its RSS, read from outside: bounded during the storm, and
back where it was after it), and the order of the answers.

The bench ``bench/logon_load.py`` runs the full-size storm (200 logons) and
times unknown users against wrong passwords.
"""

from __future__ import annotations

import base64
import http.client
import os
import pathlib
import threading
import time
from collections.abc import Callable

import psutil
import pytest
import requests
from conftest import Processes, Server, free_port, wait_for
from tenant import USERS, Tenant, add_users

STORM = 60  #: bad logons, each on a connection of its own, all sent before the good client's request
MB = 1024 * 1024


class PeakRss(threading.Thread):
    """The largest RSS of a process, sampled every few milliseconds until stopped."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.peak = self.process.memory_info().rss
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.005)


def storm(tenant: Tenant, good_request: Callable[[], int]) -> list[tuple[str, int]]:
    """Send :data:`STORM` bad logons of unknown users, then *good_request*: the answers in the order they came."""
    host, path = tenant.server.url.removeprefix("http://"), tenant.root.removeprefix(tenant.server.url) + "/"
    all_sent = threading.Barrier(STORM + 1)
    answers: list[tuple[str, int]] = []  # in the order they arrived

    def bad(n: int) -> None:
        conn = http.client.HTTPConnection(host, timeout=120)
        try:
            credentials = base64.b64encode(f"NOSUCHUSER{n}:wrong-{n}".encode()).decode()
            conn.request("GET", path, headers={"Authorization": f"Basic {credentials}"})
            all_sent.wait()
            answers.append(("bad", conn.getresponse().status))
        finally:
            conn.close()

    def good() -> None:
        all_sent.wait()
        answers.append(("good", good_request()))

    threads = [threading.Thread(target=bad, args=(n,)) for n in range(STORM)] + [threading.Thread(target=good)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def test_bad_logons_wait_their_turn_and_sessions_are_answered_meanwhile(tenant: Tenant) -> None:
    http_session = tenant.session()  # logged on before the storm; its cookie alone logs on
    cookies = dict(http_session.cookies)
    info = tenant.root + "/?$format=json"  # the service document: the general way, through the thread pool
    assert requests.get(info, cookies=cookies, timeout=30).status_code == 200
    # One bad logon first, so that what any logon loads once (the dummy hash of unknown users) is in the idle RSS.
    assert requests.get(tenant.root + "/", auth=("NOSUCHUSER", "x"), timeout=30).status_code == 401
    rss = PeakRss(tenant.server.proc.pid)
    idle = rss.peak
    rss.start()

    answers = storm(tenant, lambda: requests.get(info, cookies=cookies, timeout=120).status_code)
    rss.stop.set()
    rss.join()

    after = rss.process.memory_info().rss
    assert sorted(set(answers)) == [("bad", 401), ("good", 200)]
    bad_before_good = answers.index(("good", 200))
    # The checks run a few at a time: without that, each of the pool's 40 threads held 19 MiB and kept it.
    figures = f"RSS {idle / MB:.0f} MB idle, {rss.peak / MB:.0f} MB at the peak, {after / MB:.0f} MB after"
    assert rss.peak - idle < 100 * MB, figures
    # And each check gives its memory back when it ends (glibc's arenas kept a check's 19 MiB per thread).
    assert after - idle < 25 * MB, figures
    # A session's request does not queue behind the storm: with the checks waiting in the thread pool,
    # it waited for a thread until at least 21 of the 60 had been answered (40 threads, first come first served).
    assert bad_before_good < STORM // 4, f"{bad_before_good} bad logons were answered before the good client"


def test_a_password_verified_lately_is_not_checked_again_behind_a_storm(tenant: Tenant) -> None:
    """A cookie-less Basic client pays argon2 once a minute, not per request: it does not wait behind bad logons.

    Two users verified one after the other are both remembered (not only the last one verified).
    """
    info = tenant.root + "/?$format=json"
    for user in USERS:
        assert requests.get(info, auth=tenant.auth(user), timeout=30).status_code == 200
    answers = storm(tenant, lambda: requests.get(info, auth=tenant.auth(tenant.user), timeout=120).status_code)
    assert sorted(set(answers)) == [("bad", 401), ("good", 200)]
    bad_before_good = answers.index(("good", 200))
    assert bad_before_good < STORM // 4, f"{bad_before_good} bad logons were answered before the good client"


@pytest.fixture
def one_cpu_tenant(data_dir: pathlib.Path, processes: Processes, tmp_path: pathlib.Path) -> Tenant:
    """``appjobs serve`` (with :data:`USERS`) allowed to run on one CPU only, as under ``taskset -c N``."""
    cpu = min(os.sched_getaffinity(0))
    add_users(data_dir)
    port, log = free_port(), tmp_path / "serve.log"
    args = ["serve", "--data-dir", str(data_dir), "--port", str(port), "--grace", "1"]
    with log.open("w") as stderr:
        proc = processes.start(*args, stderr=stderr, preexec_fn=lambda: os.sched_setaffinity(0, {cpu}))
    server = Server(proc, port, log)
    wait_for(lambda: server.healthy() or proc.poll() is not None)
    assert proc.poll() is None, f"serve exited: {server.output()}"
    return Tenant(server, data_dir)


def test_a_server_allowed_one_cpu_checks_one_password_at_a_time(one_cpu_tenant: Tenant) -> None:
    """One check per core *the server may use* (its CPU affinity, not the machine's count): on one CPU, one at a time.

    Each check holds 19 MiB while it runs: the peak RSS of a storm tells one check at a time (about 19 MiB over
    idle) from two (about 38 MiB, as the 2-core storm above shows).
    """
    tenant = one_cpu_tenant
    info = tenant.root + "/?$format=json"
    assert requests.get(info, auth=tenant.auth(), timeout=30).status_code == 200
    # One bad logon first, so that what any logon loads once (the dummy hash of unknown users) is in the idle RSS.
    assert requests.get(tenant.root + "/", auth=("NOSUCHUSER", "x"), timeout=30).status_code == 401
    rss = PeakRss(tenant.server.proc.pid)
    idle = rss.peak
    rss.start()
    answers = storm(tenant, lambda: requests.get(info, auth=tenant.auth(), timeout=120).status_code)
    rss.stop.set()
    rss.join()
    assert sorted(set(answers)) == [("bad", 401), ("good", 200)]
    figures = f"RSS {idle / MB:.0f} MB idle, {rss.peak / MB:.0f} MB at the peak"
    assert rss.peak - idle < 29 * MB, figures  # one check's 19 MiB and a margin; two checks would be 38 MiB
