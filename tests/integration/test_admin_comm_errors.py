"""Bad input to ``appjobs admin users|systems|arrangements|business-users``: exit code 2, a clear message, no change.

Each case runs the command as a real subprocess on a copy of one prepared
data directory, then compares every listing (users, systems, arrangements,
business users, the audit log) with the listings before: nothing stored may
have changed, not even an audit entry.
"""

from __future__ import annotations

import pathlib
import re
import shutil
from collections.abc import Iterator

import pytest
import trustme
from commcli import BASE_PASSWORD, NEW_PASSWORD, SHORT_PASSWORD, Certificates, ok, run, snapshot

#: (arguments, standard input, what stderr must say). ``{name}`` is a file of :func:`files`.
CASES = {
    # unknown names
    "lock unknown user": (["users", "lock", "NOBODY"], "", r"communication user NOBODY doesn't exist"),
    "unlock unknown user": (["users", "unlock", "nobody"], "", r"communication user NOBODY doesn't exist"),
    "reset unknown user": (
        ["users", "reset-password", "NOBODY", "--password-stdin"],
        NEW_PASSWORD + "\n",
        r"communication user NOBODY doesn't exist",
    ),
    "arrangement for unknown user": (
        ["arrangements", "add", "NEW_0064", "--system", "PLANNER_SYSTEM", "--user", "nobody"],
        "",
        r"communication user NOBODY doesn't exist",
    ),
    "arrangement with unknown system": (
        ["arrangements", "add", "NEW_0064", "--system", "NOSUCHSYSTEM", "--user", "BASE"],
        "",
        r"communication system NOSUCHSYSTEM doesn't exist",
    ),
    "remove unknown arrangement": (["arrangements", "remove", "NOSUCH"], "", r"arrangement NOSUCH doesn't exist"),
    "unknown scenario": (
        [
            "arrangements",
            "add",
            "NEW_0999",
            "--system",
            "PLANNER_SYSTEM",
            "--user",
            "BASE",
            "--scenario",
            "SAP_COM_0999",
        ],
        "",
        r"Invalid value for '--scenario': 'SAP_COM_0999' is not one of 'SAP_COM_0064', 'SAP_COM_0326'",
    ),
    # duplicates
    "duplicate user": (["users", "add", "base", "--password-stdin"], NEW_PASSWORD, r"user BASE already exists"),
    "duplicate system": (
        ["systems", "add", "PLANNER_SYSTEM", "--host", "other.example.com"],
        "",
        r"communication system PLANNER_SYSTEM already exists",
    ),
    "duplicate arrangement": (
        ["arrangements", "add", "BASE_0064", "--system", "PLANNER_SYSTEM", "--user", "CERTUSER"],
        "",
        r"communication arrangement BASE_0064 already exists",
    ),
    "duplicate business user": (["business-users", "add", "CB9980000001"], "", r"CB9980000001 already exists"),
    "duplicate business user in lower case": (
        ["business-users", "add", "cb9980000001", "--description", "again"],
        "",
        r"business user CB9980000001 already exists",
    ),
    "certificate of another user": (
        ["users", "add", "NEWCERT", "--certificate", "{used}"],
        "",
        r"certificate is already the certificate of communication user CERTUSER",
    ),
    # certificates that are none
    "not a certificate": (["users", "add", "NEWCERT", "--certificate", "{text}"], "", r"text\.pem is not an X\.509"),
    "a private key": (["users", "add", "NEWCERT", "--certificate", "{key}"], "", r"key\.pem is not an X\.509"),
    "empty file": (["users", "add", "NEWCERT", "--certificate", "{empty}"], "", r"empty\.der is not an X\.509"),
    "missing certificate": (
        ["users", "add", "NEWCERT", "--certificate", "{missing}"],
        "",
        r"cannot read certificate file .*missing\.pem",
    ),
    # passwords
    "short password": (["users", "add", "NEW", "--password-stdin"], SHORT_PASSWORD, r"at least 8 characters"),
    "empty stdin": (["users", "add", "NEW", "--password-stdin"], "", r"no password on standard input"),
    "empty line on stdin": (["users", "add", "NEW", "--password-stdin"], "\n", r"no password on standard input"),
    "password of 7 characters": (["users", "add", "NEW", "--password-stdin"], "7-chars", r"at least 8 characters"),
    "reset to a short password": (
        ["users", "reset-password", "BASE", "--password-stdin"],
        SHORT_PASSWORD + "\n",
        r"at least 8 characters",
    ),
    "reset to 7 characters": (
        ["users", "reset-password", "BASE", "--password-stdin"],
        "7-chars\n",
        r"at least 8 characters",
    ),
    "reset from empty stdin": (["users", "reset-password", "BASE", "--password-stdin"], "", r"no password on standard"),
    "both password and certificate": (
        ["users", "add", "NEW", "--password-stdin", "--certificate", "{fresh}"],
        NEW_PASSWORD,
        r"exactly one of --password-stdin or --certificate",
    ),
    "neither password nor certificate": (["users", "add", "NEW"], "", r"exactly one of --password-stdin or --certif"),
    # invalid names
    "invalid host name": (
        ["systems", "add", "NEWSYS", "--host", "bad host"],
        "",
        r"'bad host' is not a valid host name",
    ),
    "invalid system id": (["systems", "add", "new sys", "--host", "h.example.com"], "", r"'NEW SYS' is not a valid"),
    "system id too long": (["systems", "add", "S" * 41, "--host", "h"], "", r"'S{41}' is not a valid communication"),
    "invalid user name": (
        ["users", "add", "bad/name", "--password-stdin"],
        NEW_PASSWORD,
        r"'BAD/NAME' is not a valid communication user name",
    ),
    "user name too long": (["users", "add", "U" * 41, "--password-stdin"], NEW_PASSWORD, r"'U{41}' is not a valid"),
    "invalid arrangement name": (
        ["arrangements", "add", "NEW 0064", "--system", "PLANNER_SYSTEM", "--user", "BASE"],
        "",
        r"'NEW 0064' is not a valid arrangement name",
    ),
    "invalid business user id": (["business-users", "add", "BAD ID!"], "", r"'BAD ID!' is not a valid business user"),
    "description too long": (
        ["business-users", "add", "CB9980000002", "--description", "d" * 81],
        "",
        r"description is longer than 80 characters",
    ),
}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pathlib.Path]:
    """Certificate files: one CERTUSER has, a fresh one, and files that hold no certificate."""
    directory = tmp_path_factory.mktemp("certificates")
    certs = Certificates(directory, trustme.CA())
    (directory / "text.pem").write_text("this is not a certificate\n")
    (directory / "empty.der").write_bytes(b"")
    return {
        "used": certs.pem("used.pem", "certuser.example.com"),
        "fresh": certs.pem("fresh.pem", "fresh.example.com"),
        "key": certs.private_key("key.pem"),
        "text": directory / "text.pem",
        "empty": directory / "empty.der",
        "missing": directory / "missing.pem",
    }


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory, files: dict[str, pathlib.Path]) -> Iterator[pathlib.Path]:
    """A data directory with users BASE and CERTUSER, a system PLANNER_SYSTEM and a business user."""
    data_dir = tmp_path_factory.mktemp("base") / "data"
    ok("init", data_dir=data_dir)
    ok("users", "add", "BASE", "--password-stdin", data_dir=data_dir, stdin=BASE_PASSWORD + "\n")
    ok("users", "add", "CERTUSER", "--certificate", str(files["used"]), data_dir=data_dir)
    ok("systems", "add", "PLANNER_SYSTEM", "--host", "planner.example.com", data_dir=data_dir)
    ok("business-users", "add", "CB9980000001", "--description", "Demo", data_dir=data_dir)
    return data_dir


@pytest.fixture(scope="module")
def before(base: pathlib.Path) -> dict[str, list[dict[str, object]]]:
    """Every listing of the prepared data directory."""
    found = snapshot(base)
    assert [u["name"] for u in found["users"]] == ["BASE", "CERTUSER"]
    assert [a["name"] for a in found["arrangements"]] == ["BASE_0064", "CERTUSER_0064"]
    return found


@pytest.mark.parametrize("case", CASES)
def test_bad_input_exits_2_names_the_problem_and_changes_nothing(
    case: str,
    base: pathlib.Path,
    before: dict[str, list[dict[str, object]]],
    files: dict[str, pathlib.Path],
    tmp_path: pathlib.Path,
) -> None:
    """Bad input, an unknown name or a duplicate exits 2 with a message naming what is wrong; nothing changes."""
    args, stdin, expected = CASES[case]
    data_dir = tmp_path / "data"
    shutil.copytree(base, data_dir)
    result = run(*(a.format(**files) for a in args), data_dir=data_dir, stdin=stdin)
    assert result.returncode == 2, f"exit {result.returncode}: {result.stdout}{result.stderr}"
    assert re.search(expected, result.stderr), result.stderr
    assert result.stdout == ""
    assert snapshot(data_dir) == before
