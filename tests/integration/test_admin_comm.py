"""Communication management as an administrator does it: ``appjobs admin users|systems|arrangements|…``.

Every command runs as a real subprocess on a real data directory, and
:func:`commcli.run` checks that no output holds a password or a hash. Bad
input (exit code 2, nothing changed) is in ``test_admin_comm_errors.py``.
"""

from __future__ import annotations

import datetime as dt
import pathlib
import time

import pytest
import trustme
from commcli import (
    BASE_PASSWORD,
    NEW_PASSWORD,
    OTHER_PASSWORD,
    SERVICE_PATH,
    Certificates,
    fingerprint,
    leaks,
    listing,
    ok,
    run,
)

from appjobs import errors
from appjobs.auth import passwords
from appjobs.auth import users as comm
from appjobs.settings import Paths
from appjobs.storage import Store

# The admin commands need a data directory that exists (test_cli.py checks that they refuse one that does not).
pytestmark = pytest.mark.usefixtures("initialised")

USER_FIELDS = {"name", "created_at", "has_password", "cert_fingerprint", "cert_subject", "locked", "failed_logons"}
DEFAULT_SERVICE_URL = "http://127.0.0.1:8080" + SERVICE_PATH


@pytest.fixture
def certs(tmp_path: pathlib.Path) -> Certificates:
    return Certificates(tmp_path, trustme.CA())


def stored_hash(data_dir: pathlib.Path, name: str) -> str | None:
    """The password hash stored for *name*, read from the database itself."""
    store = Store.open(Paths.resolve(str(data_dir)).database_url)
    try:
        return store.users.password_hash(name)
    finally:
        store.close()


def users(data_dir: pathlib.Path) -> dict[str, dict[str, object]]:
    return {u["name"]: u for u in listing("users", "list", data_dir=data_dir)}  # type: ignore[misc]


def test_users_add_creates_user_system_and_0064_arrangement(data_dir: pathlib.Path) -> None:
    """``users add NAME --password-stdin`` creates NAME, NAME_SYSTEM and NAME_0064; the hash is argon2id."""
    out = ok("users", "add", "sched1", "--password-stdin", data_dir=data_dir, stdin=BASE_PASSWORD + "\n")
    assert out.splitlines() == [
        "communication user SCHED1 added",
        "communication system SCHED1_SYSTEM added",
        "communication arrangement SCHED1_0064 (SAP_COM_0064) added",
    ]
    [user] = listing("users", "list", data_dir=data_dir)
    assert set(user) == USER_FIELDS
    assert user | {"created_at": None} == {
        "name": "SCHED1",
        "created_at": None,
        "has_password": True,
        "cert_fingerprint": None,
        "cert_subject": None,
        "locked": False,
        "failed_logons": 0,
    }
    [system] = listing("systems", "list", data_dir=data_dir)
    assert (system["id"], system["host_name"]) == ("SCHED1_SYSTEM", "localhost")
    [arrangement] = listing("arrangements", "list", data_dir=data_dir)
    assert arrangement | {"created_at": None} == {
        "name": "SCHED1_0064",
        "scenario": "SAP_COM_0064",
        "system_id": "SCHED1_SYSTEM",
        "user_name": "SCHED1",
        "created_at": None,
        "service_url": DEFAULT_SERVICE_URL,
    }
    hashed = stored_hash(data_dir, "SCHED1")
    assert hashed is not None
    # argon2id with OWASP's minimum cost, as the README says (19 MiB, 2 passes, 1 lane): a cheaper hash is weaker.
    assert hashed.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert passwords.verify_password(hashed, BASE_PASSWORD)
    assert ok("users", "list", data_dir=data_dir) == "SCHED1\tpassword\tactive\tfailed logons: 0\n"


def test_users_add_uses_a_system_that_exists_with_its_host(data_dir: pathlib.Path) -> None:
    """A system NAME_SYSTEM added before (with its real host) is used by ``users add NAME``, not refused."""
    ok("systems", "add", "planner_system", "--host", "planner.example.com", data_dir=data_dir)
    out = ok("users", "add", "planner", "--password-stdin", data_dir=data_dir, stdin=BASE_PASSWORD + "\n")
    assert out.splitlines() == [
        "communication user PLANNER added",
        "communication arrangement PLANNER_0064 (SAP_COM_0064, existing system PLANNER_SYSTEM) added",
    ]
    [system] = listing("systems", "list", data_dir=data_dir)
    assert (system["id"], system["host_name"]) == ("PLANNER_SYSTEM", "planner.example.com")
    [arrangement] = listing("arrangements", "list", data_dir=data_dir)
    assert (arrangement["name"], arrangement["system_id"], arrangement["user_name"]) == (
        "PLANNER_0064",
        "PLANNER_SYSTEM",
        "PLANNER",
    )


def test_users_add_without_arrangement_creates_only_the_user(data_dir: pathlib.Path) -> None:
    """``--no-arrangement`` creates the user alone: no system, no arrangement."""
    out = ok("users", "add", "LONER", "--password-stdin", "--no-arrangement", data_dir=data_dir, stdin=BASE_PASSWORD)
    assert out == "communication user LONER added\n"
    assert list(users(data_dir)) == ["LONER"]
    assert listing("systems", "list", data_dir=data_dir) == []
    assert listing("arrangements", "list", data_dir=data_dir) == []


def test_certificate_users_from_pem_and_der(data_dir: pathlib.Path, certs: Certificates) -> None:
    """A certificate user is stored with the SHA-256 fingerprint and subject of its PEM or DER certificate."""
    pem, der = certs.pem("a.pem", "pem.example.com"), certs.der("b.der", "der.example.com")
    ok("users", "add", "PEMUSER", "--certificate", str(pem), data_dir=data_dir)
    ok("users", "add", "DERUSER", "--certificate", str(der), "--no-arrangement", data_dir=data_dir)
    found = users(data_dir)
    for name, path, common_name in (("PEMUSER", pem, "pem.example.com"), ("DERUSER", der, "der.example.com")):
        assert found[name]["has_password"] is False
        assert found[name]["cert_fingerprint"] == fingerprint(path)
        assert str(found[name]["cert_subject"]).startswith(f"CN={common_name},")
    assert stored_hash(data_dir, "PEMUSER") is None
    text = ok("users", "list", data_dir=data_dir).splitlines()
    assert text[1].startswith("PEMUSER\tcertificate CN=pem.example.com,")
    assert text[1].endswith("\tactive\tfailed logons: 0")
    assert [a["name"] for a in listing("arrangements", "list", data_dir=data_dir)] == ["PEMUSER_0064"]


def test_lock_and_unlock(data_dir: pathlib.Path) -> None:
    """``users lock`` marks the user locked, ``users unlock`` clears it (names in any case); both are audited."""
    ok("users", "add", "SCHED1", "--password-stdin", data_dir=data_dir, stdin=BASE_PASSWORD)
    ok("users", "add", "SCHED2", "--password-stdin", data_dir=data_dir, stdin=OTHER_PASSWORD)
    assert ok("users", "lock", "sched1", data_dir=data_dir) == "communication user SCHED1 locked\n"
    assert {n: u["locked"] for n, u in users(data_dir).items()} == {"SCHED1": True, "SCHED2": False}
    assert "SCHED1\tpassword\tLOCKED\t" in ok("users", "list", data_dir=data_dir)
    assert ok("users", "unlock", "SCHED1", data_dir=data_dir) == "communication user SCHED1 unlocked\n"
    assert {n: u["locked"] for n, u in users(data_dir).items()} == {"SCHED1": False, "SCHED2": False}
    admin = [(e["user_name"], e["detail"]) for e in listing("audit", data_dir=data_dir) if e["event"] == "admin"]
    assert admin[-2:] == [("SCHED1", "locked"), ("SCHED1", "unlocked")]


def test_reset_password(data_dir: pathlib.Path) -> None:
    """``users reset-password`` stores a hash of the new password (the old one no longer verifies), audited."""
    ok("users", "add", "SCHED1", "--password-stdin", data_dir=data_dir, stdin=BASE_PASSWORD)
    old = stored_hash(data_dir, "SCHED1")
    out = ok("users", "reset-password", "sched1", "--password-stdin", data_dir=data_dir, stdin=NEW_PASSWORD + "\r\n")
    assert out == "password of communication user SCHED1 reset\n"
    new = stored_hash(data_dir, "SCHED1")
    assert new is not None
    assert new != old
    assert passwords.verify_password(new, NEW_PASSWORD)
    assert not passwords.verify_password(new, BASE_PASSWORD)
    last = listing("audit", data_dir=data_dir)[-1]
    assert (last["event"], last["user_name"], last["detail"]) == ("admin", "SCHED1", "password reset")


def test_systems_add_and_list(data_dir: pathlib.Path) -> None:
    """``systems add`` stores id and host (names, IPv4, IPv6); ``systems list`` shows them, in text and JSON."""
    ok("systems", "add", "SCHED.PROD-1", "--host", "scheduler-01.example.com", data_dir=data_dir)
    ok("systems", "add", "IPV6", "--host", "[2001:db8::1]", data_dir=data_dir)
    out = ok("systems", "add", "IPV4", "--host", "192.0.2.10", data_dir=data_dir)
    assert out == "communication system IPV4 added\n"
    found = listing("systems", "list", data_dir=data_dir)
    assert [(s["id"], s["host_name"]) for s in found] == [
        ("IPV4", "192.0.2.10"),
        ("IPV6", "[2001:db8::1]"),
        ("SCHED.PROD-1", "scheduler-01.example.com"),
    ]
    assert all(set(s) == {"id", "host_name", "created_at"} for s in found)
    assert ok("systems", "list", data_dir=data_dir).splitlines()[0] == "IPV4\t192.0.2.10"


def test_arrangement_0326_shows_the_service_url(data_dir: pathlib.Path) -> None:
    """``arrangements add --scenario SAP_COM_0326`` prints, and ``list`` shows, the service URL of --public-url."""
    ok("users", "add", "ALLJOBS", "--password-stdin", "--no-arrangement", data_dir=data_dir, stdin=BASE_PASSWORD)
    ok("systems", "add", "MONITOR", "--host", "monitor.example.com", data_dir=data_dir)
    public = "https://jobs.example.com:8443/"
    out = ok(
        "arrangements", "add", "ALLJOBS_0326", "--system", "MONITOR", "--user", "alljobs",
        "--scenario", "SAP_COM_0326", "--public-url", public, data_dir=data_dir,
    )  # fmt: skip
    url = "https://jobs.example.com:8443" + SERVICE_PATH
    assert out == f"communication arrangement ALLJOBS_0326 added; service URL: {url}\n"
    [found] = listing("arrangements", "list", "--public-url", public, data_dir=data_dir)
    assert found | {"created_at": None} == {
        "name": "ALLJOBS_0326",
        "scenario": "SAP_COM_0326",
        "system_id": "MONITOR",
        "user_name": "ALLJOBS",
        "created_at": None,
        "service_url": url,
    }
    text = ok("arrangements", "list", "--public-url", public, data_dir=data_dir)
    assert text == f"ALLJOBS_0326\tSAP_COM_0326\tMONITOR\tALLJOBS\t{url}\n"
    env = {"APPJOBS_PUBLIC_URL": "https://from-env.example.com"}
    [by_env] = listing("arrangements", "list", data_dir=data_dir, env=env)
    assert by_env["service_url"] == "https://from-env.example.com" + SERVICE_PATH
    assert listing("arrangements", "list", data_dir=data_dir)[0]["service_url"] == DEFAULT_SERVICE_URL


def test_a_public_url_that_is_no_http_url_exits_2_naming_it_and_adds_nothing(data_dir: pathlib.Path) -> None:
    """A typo here would reach every scheduler that copies the service URL: refused before anything is stored."""
    ok("users", "add", "ALLJOBS", "--password-stdin", "--no-arrangement", data_dir=data_dir, stdin=BASE_PASSWORD)
    ok("systems", "add", "MONITOR", "--host", "monitor.example.com", data_dir=data_dir)
    for bad in (
        "jobs.example.com",
        "ftp://jobs.example.com",
        "https://",
        "https://jobs.example.com/?x=1",
        "http://h:99999",
        "https://jobs example.com",
        "https://jobs\tx.example.com",
    ):
        done = run(
            "arrangements", "add", "ALLJOBS_0064", "--system", "MONITOR", "--user", "alljobs", "--public-url", bad,
            data_dir=data_dir,
        )  # fmt: skip
        assert done.returncode == 2, (bad, done.stderr)
        assert "Invalid value for '--public-url'" in done.stderr, done.stderr
        assert repr(bad) in done.stderr, done.stderr
    undecodable = "https://h\udcff.example.com"  # a byte that is not UTF-8, as the environment may bring it
    done = run("arrangements", "list", data_dir=data_dir, env={"APPJOBS_PUBLIC_URL": undecodable})
    assert done.returncode == 2, done.stdout
    assert "Invalid value for '--public-url'" in done.stderr, done.stderr
    assert listing("arrangements", "list", data_dir=data_dir) == []


def test_arrangements_remove(data_dir: pathlib.Path) -> None:
    """``arrangements remove`` deletes the arrangement only (user and system stay), and is audited."""
    ok("users", "add", "SCHED1", "--password-stdin", data_dir=data_dir, stdin=BASE_PASSWORD)
    assert ok("arrangements", "remove", "SCHED1_0064", data_dir=data_dir) == (
        "communication arrangement SCHED1_0064 removed\n"
    )
    assert listing("arrangements", "list", data_dir=data_dir) == []
    assert list(users(data_dir)) == ["SCHED1"]
    assert [s["id"] for s in listing("systems", "list", data_dir=data_dir)] == ["SCHED1_SYSTEM"]
    assert listing("audit", data_dir=data_dir)[-1]["detail"] == "removed communication arrangement SCHED1_0064"


def test_business_users_add_and_list(data_dir: pathlib.Path) -> None:
    """``business-users add`` upper-cases the id and keeps the description; ``list`` shows both."""
    assert ok("business-users", "add", "cb9980000002", data_dir=data_dir) == "business user CB9980000002 added\n"
    ok("business-users", "add", "PLANNER@ACME.COM", "--description", "Head of planning", data_dir=data_dir)
    found = listing("business-users", "list", data_dir=data_dir)
    assert [(b["id"], b["description"]) for b in found] == [
        ("CB9980000002", ""),
        ("PLANNER@ACME.COM", "Head of planning"),
    ]
    assert all(set(b) == {"id", "description", "created_at"} for b in found)
    assert ok("business-users", "list", data_dir=data_dir).splitlines()[1] == "PLANNER@ACME.COM\tHead of planning"


def make_changes(data_dir: pathlib.Path) -> None:
    """One of each admin change."""
    ok("users", "add", "SCHED1", "--password-stdin", data_dir=data_dir, stdin=BASE_PASSWORD)
    ok("users", "reset-password", "SCHED1", "--password-stdin", data_dir=data_dir, stdin=NEW_PASSWORD)
    ok("users", "lock", "SCHED1", data_dir=data_dir)
    ok("users", "unlock", "SCHED1", data_dir=data_dir)
    ok("systems", "add", "MONITOR", "--host", "monitor.example.com", data_dir=data_dir)
    ok("arrangements", "add", "MON_0326", "--system", "MONITOR", "--user", "SCHED1", "--scenario", "SAP_COM_0326",
       data_dir=data_dir)  # fmt: skip
    ok("arrangements", "remove", "SCHED1_0064", data_dir=data_dir)
    ok("business-users", "add", "CB9980000002", data_dir=data_dir)


def test_audit_records_every_admin_change_and_no_secret(data_dir: pathlib.Path) -> None:
    """``audit --json`` lists each admin change in order (source admin, success) and holds no password or hash."""
    make_changes(data_dir)
    done = run("audit", "--json", data_dir=data_dir)
    assert done.returncode == 0, done.stderr
    assert not leaks(done.stdout)
    found = listing("audit", data_dir=data_dir)
    assert {(e["event"], e["source"], e["outcome"]) for e in found} == {("admin", "admin", "success")}
    assert [(e["user_name"], e["detail"]) for e in found] == [
        ("SCHED1", "created communication user SCHED1, communication system SCHED1_SYSTEM, "
                   "communication arrangement SCHED1_0064 (SAP_COM_0064)"),
        ("SCHED1", "password reset"),
        ("SCHED1", "locked"),
        ("SCHED1", "unlocked"),
        (None, "created communication system MONITOR (monitor.example.com)"),
        ("SCHED1", "created communication arrangement MON_0326 (SAP_COM_0326, MONITOR)"),
        (None, "removed communication arrangement SCHED1_0064"),
        (None, "created business user CB9980000002"),
    ]  # fmt: skip
    assert all(set(e) == {"at", "event", "user_name", "source", "outcome", "detail", "request_id"} for e in found)
    assert all(e["request_id"] is None for e in found)  # made by commands, not for an HTTP request
    text = ok("audit", data_dir=data_dir).splitlines()
    assert len(text) == len(found)
    assert " admin     success  SCHED1               admin           password reset" in text[1]


def test_audit_since(data_dir: pathlib.Path) -> None:
    """``audit --since T`` shows the entries from T (UTC) on, and none with T in the future."""
    ok("business-users", "add", "EARLY", data_dir=data_dir)
    # The next whole second of UTC, passed: what is added from now on is at or after it.
    cut = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)).replace(microsecond=0)
    while dt.datetime.now(dt.UTC) < cut:
        time.sleep(0.05)
    ok("business-users", "add", "LATE", data_dir=data_dir)
    since = cut.strftime("%Y-%m-%dT%H:%M:%S")
    assert [e["detail"] for e in listing("audit", "--since", since, data_dir=data_dir)] == [
        "created business user LATE"
    ]
    assert len(listing("audit", "--since", "2000-01-01", data_dir=data_dir)) == 2
    assert len(listing("audit", data_dir=data_dir)) == 2  # the default: the last 24 hours
    tomorrow = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).strftime("%Y-%m-%d")
    assert listing("audit", "--since", tomorrow, data_dir=data_dir) == []


def test_limits_are_inclusive(data_dir: pathlib.Path) -> None:
    """What the rules allow at their edges is accepted: an 8-character password (added and reset), a 40-character
    user name, whose system id is cut to 40 characters, and an 80-character business user description."""
    eight, name = "8-chars!", "U" * 40
    ok("users", "add", name, "--password-stdin", data_dir=data_dir, stdin=eight + "\n")
    assert passwords.verify_password(stored_hash(data_dir, name) or "", eight)
    ok("users", "reset-password", name, "--password-stdin", data_dir=data_dir, stdin="8-again!\n")
    assert passwords.verify_password(stored_hash(data_dir, name) or "", "8-again!")
    [system] = listing("systems", "list", data_dir=data_dir)
    assert system["id"] == (name + "_SYSTEM")[:40] == name
    [arrangement] = listing("arrangements", "list", data_dir=data_dir)
    assert (arrangement["name"], arrangement["system_id"], arrangement["user_name"]) == (f"{name}_0064", name, name)
    described = "d" * 80
    ok("business-users", "add", "CB9980000003", "--description", described, data_dir=data_dir)
    assert [b["description"] for b in listing("business-users", "list", data_dir=data_dir)] == [described]


def test_the_python_api_refuses_an_unknown_scenario_naming_the_known_ones(data_dir: pathlib.Path) -> None:
    """``users.add_arrangement`` is also the API of the web pages to come, which have no click.Choice in front:
    an unknown scenario is refused as bad input that names the scenarios there are, and nothing is stored."""
    ok("users", "add", "SCHED1", "--password-stdin", "--no-arrangement", data_dir=data_dir, stdin=BASE_PASSWORD)
    store = Store.open(Paths.resolve(str(data_dir)).database_url)
    try:
        with pytest.raises(errors.InvalidInput, match=r"'SAP_COM_0999' is not a communication scenario of this "
                           r"service \(SAP_COM_0064, SAP_COM_0326\)"):  # fmt: skip
            comm.add_arrangement(store, "SCHED1_0999", "SAP_COM_0999", "SCHED1_SYSTEM", "SCHED1")
        assert list(store.comm.arrangements()) == []
    finally:
        store.close()
