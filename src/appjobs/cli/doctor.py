"""``appjobs admin doctor``: what an operator checks first when something seems wrong, in one command.

Each check prints one line, ``OK``, ``WARN`` or ``FAIL``, with what it found;
the command exits 1 when any check FAILs (0 otherwise), so that it can run
from cron or a monitoring agent. The checks:

* **data directory**: private (0700, files 0600): it holds password hashes;
* **database**: answers, passes SQLite's ``quick_check``, and holds the
  schema this code expects (older: start serve to migrate; newer: FAIL);
* **disk space** where the data directory lives;
* **workers**: alive, and any registered worker that died without
  unregistering (on this host, its process is gone);
* **TLS certificate** (``--tls-cert``): not expired, not expiring in 30 days;
* **clock** (PostgreSQL): this host's clock against the database server's,
  and the other hosts' through their workers' heartbeats.
"""

from __future__ import annotations

import datetime as dt
import pathlib
import shutil
import stat
from collections.abc import Callable, Iterator
from typing import NamedTuple

import click
import sqlalchemy as sa

from appjobs import errors, models
from appjobs.cli.options import data_dir_option
from appjobs.settings import Paths
from appjobs.storage import Store

MIB = 1024 * 1024
SKEW_WARN, SKEW_FAIL = dt.timedelta(seconds=2), dt.timedelta(seconds=30)
CERT_WARN = dt.timedelta(days=30)


class Finding(NamedTuple):
    level: str  #: OK, WARN or FAIL
    check: str
    detail: str


@click.command("doctor")
@data_dir_option
@click.option("--tls-cert", type=click.Path(dir_okay=False), help="Also check this certificate's expiry (serve's).")
@click.option("--min-free", default=1024, show_default=True, type=click.IntRange(1), metavar="MIB",
              help="WARN below this much free disk space (FAIL below a tenth of it).")  # fmt: skip
def doctor(data_dir: str | None, tls_cert: str | None, min_free: int) -> None:
    """Check the data directory, database, disk, workers, TLS certificate and clocks; exit 1 on a FAIL."""
    paths = Paths.resolve(data_dir)
    paths.require()
    findings = list(_data_directory(paths.data_dir))
    findings.append(_disk(paths.data_dir, min_free * MIB))
    findings += _with_store(paths)
    if tls_cert:
        findings.append(_certificate(pathlib.Path(tls_cert)))
    for f in findings:
        click.echo(f"{f.level:4}  {f.check:15} {f.detail}")
    if any(f.level == "FAIL" for f in findings):
        raise SystemExit(1)


def _data_directory(root: pathlib.Path) -> Iterator[Finding]:
    open_to_others = [p for p in [root, *root.rglob("*")] if not p.is_symlink() and _mode(p) & 0o077]
    if open_to_others:
        shown = ", ".join(f"{p} ({_mode(p):04o})" for p in open_to_others[:5])
        more = f" and {len(open_to_others) - 5} more" if len(open_to_others) > 5 else ""
        yield Finding("FAIL", "data directory", f"open to other users: {shown}{more}; it holds password hashes "
                      f"and logs: chmod -R go= {root} (serve and worker also narrow it when they start)")  # fmt: skip
    else:
        yield Finding("OK", "data directory", f"{root} is private to its owner")


def _mode(path: pathlib.Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def _disk(root: pathlib.Path, minimum: int) -> Finding:
    free = shutil.disk_usage(root).free
    detail = f"{free / MIB:,.0f} MiB free where {root} lives"
    if free < minimum // 10:
        return Finding("FAIL", "disk space", detail + " (jobs cannot be written when it runs out)")
    return Finding("WARN" if free < minimum else "OK", "disk space", detail)


def _with_store(paths: Paths) -> list[Finding]:
    try:
        store = Store.open(paths.database_url, migrate=False)
    except errors.AppjobsError as exc:
        return [Finding("FAIL", "database", f"cannot open it: {exc}")]
    try:
        checks: list[Callable[[Store], list[Finding]]] = [_database, _workers, _clocks]
        return [finding for check in checks for finding in _guarded(check, store)]
    finally:
        store.close()


def _guarded(check: Callable[[Store], list[Finding]], store: Store) -> list[Finding]:
    try:
        return check(store)
    except errors.StorageError as exc:
        return [Finding("FAIL", "database", f"does not answer: {exc}")]


def _database(store: Store) -> list[Finding]:
    revision, head = store.db.schema_state()
    findings = []
    if store.db.dialect == "sqlite":
        with store.db.read() as conn:
            result = conn.execute(sa.text("PRAGMA quick_check")).scalar()
        level = "OK" if result == "ok" else "FAIL"
        findings.append(Finding(level, "database", "SQLite quick_check: " + str(result)))
    if revision == head:
        findings.append(Finding("OK", "schema", f"revision {head}, the current one"))
    elif revision is None or revision < head:
        findings.append(Finding("WARN", "schema", f"revision {revision}; start serve to migrate it to {head}"))
    else:
        findings.append(Finding("FAIL", "schema", f"revision {revision} is newer than this appjobs knows ({head})"))
    return findings


def _workers(store: Store) -> list[Finding]:
    from appjobs.engine import JobService

    service = JobService(store)
    alive = {w.id for w in service.live_workers()}
    registered = store.workers.all()
    dead = [w for w in registered.values() if w.id not in alive]
    findings = [Finding("OK" if alive else "WARN", "workers", f"{len(alive)} alive" + (
        "" if alive else ": jobs will not start until a worker runs (appjobs serve or appjobs worker)"))]  # fmt: skip
    if dead:
        shown = ", ".join(f"pid {w.pid} on {w.hostname} (last heartbeat {w.heartbeat_at:%Y-%m-%d %H:%M:%S})"
                          for w in dead[:5])  # fmt: skip
        findings.append(Finding("WARN", "workers", f"{len(dead)} registered but dead: {shown}; their jobs are "
                                "recovered by the next worker that starts"))  # fmt: skip
    return findings


def _clocks(store: Store) -> list[Finding]:
    if store.db.dialect != "postgresql":
        return []
    with store.db.read() as conn:
        server_now = conn.execute(sa.text("SELECT now()")).scalar()
    skew = abs(server_now - models.utcnow())
    level = "FAIL" if skew > SKEW_FAIL else "WARN" if skew > SKEW_WARN else "OK"
    findings = [Finding(level, "clock", f"this host and the database server differ by {skew.total_seconds():.1f} s")]
    ahead = [w for w in store.workers.all().values() if w.heartbeat_at - server_now > SKEW_WARN]
    if ahead:
        hosts = ", ".join(sorted({w.hostname for w in ahead}))
        findings.append(Finding("WARN", "clock", f"workers on {hosts} report heartbeats from the future: their "
                                "clocks are ahead; planned starts and leases depend on them"))  # fmt: skip
    return findings


def _certificate(path: pathlib.Path) -> Finding:
    from cryptography import x509

    try:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError) as exc:
        return Finding("FAIL", "TLS certificate", f"cannot read {path}: {exc}")
    left = cert.not_valid_after_utc - dt.datetime.now(dt.UTC)
    detail = f"{path} expires {cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC"
    if left <= dt.timedelta(0):
        return Finding("FAIL", "TLS certificate", detail + ": expired; clients refuse the server")
    return Finding("WARN" if left < CERT_WARN else "OK", "TLS certificate", detail + f" (in {left.days} days)")
