"""Benchmark of the HTTP stack: JobStatusGet requests/s and latency through ``appjobs serve``, next to bare Starlette.

What is measured, against a real ``appjobs serve`` subprocess on a fresh SQLite data directory:

* **JobStatusGet with the session cookie** -- ``GET <root>/JobStatusGet?JobName='…'&JobRunCount='…'&$format=json``
  with the ``SAP_SESSIONID_…`` cookie of a token fetch (``HEAD <root>/`` with ``X-CSRF-Token: Fetch`` and Basic
  auth), the way a scheduler polls a job: uvicorn, Starlette, the logon gate (the session, from the server's
  cache or a lookup in SQLite), the job read and the OData JSON answer. A poll whose caller the server knows from
  its caches is answered on the event loop, without the thread hop.
* **JobStatusGet with Basic auth on every request** and no cookie: the password is checked against the
  verified-credential cache, and verified (argon2id) only when the cache does not know it.
* **Anchors**, measured in the same run with the same load generator and connections: a bare Starlette app on
  uvicorn with the same settings (httptools, one process, ``log_level="warning"``, default event loop) serving a
  trivial JSON route, ``async`` (the goal's anchor) and plain ``def`` (Starlette runs it in its thread pool, as
  appjobs runs every OData request but a known poll, so the gap between the two is the cost of the thread hop).

Each target gets a warm-up run, then a fixed-duration run with the same number of keep-alive connections, each
sending its requests one after the other (closed loop). ``--rounds N`` repeats the whole sequence, interleaved,
and reports the round with the median requests/s. Load comes from ``wrk`` when it is installed, else from a Python
asyncio generator in a separate process (:mod:`odata_load`). Client and server run on this machine over loopback
and share its cores, so absolute figures are lower than with a separate client machine; the goals use ratios. The
CPU that *other* processes used during each run is printed too: it means the figures are disturbed. How the
servers are started and set up is in :mod:`odata_servers`.

Goals (from the issues): JobStatusGet with the cookie reaches **at least 50% of bare Starlette's requests/s**;
JobStatusGet with Basic auth on every request is **within 10% of the same with the cookie**, both measured in
the same run.

``--profile`` then says where the time goes, against the same data directory with the two servers stopped:
the cost of each layer of one request, timed in this process without a profiler (:mod:`odata_layers`), and the
same app under the same load in a thread of this process, plain and under cProfile (:mod:`odata_profile`).

``--postgres SERVER`` serves from a new database on that PostgreSQL server (``engine_pg.py``) instead of the
embedded SQLite file: there the poll has no short way (that is SQLite's), so the figure shows the general path.

Run by hand (it is not a test)::

    .venv/bin/python bench/odata_bench.py [--duration S] [--warmup S] [--connections N] [--rounds N]
                                          [--generator auto|wrk|python] [--profile] [--keep] [--postgres SERVER]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pathlib
import platform
import secrets
import shutil
import sqlite3
import sys
import tempfile

import psutil
import sqlalchemy as sa
from odata_load import WRK_SCRIPT, Figures, Load, Target, load_gen, measure
from odata_profile import profile
from odata_servers import Setup, basic, check_target, serve_bare, start_servers, status_path

GOAL_VS_BARE = 0.50  # the cookie figure against bare Starlette's async route
GOAL_BASIC_VS_COOKIE = 0.10  # Basic on every request within this much of the cookie figure, either way
OTHER_LOAD_WARNING = 0.15  # cores used by other processes during a run that make its figures suspect


# --- the targets ---------------------------------------------------------------------------------------------------


def targets(setup: Setup) -> list[Target]:
    assert setup.logon is not None
    path, cookie, auth = (
        status_path(*setup.job),
        ("Cookie", setup.logon.cookie),
        ("Authorization", basic(setup.password)),
    )
    return [
        Target("bare Starlette, async JSON route", setup.bare_port, "/bare", role="bare"),
        Target("bare Starlette, sync route (thread pool)", setup.bare_port, "/bare-sync", role="bare-sync"),
        Target("JobStatusGet, session cookie", setup.ours_port, path, (cookie,), "cookie"),
        Target("JobStatusGet, Basic auth on every request", setup.ours_port, path, (auth,), "basic"),
    ]


def run_targets(setup: Setup, load: Load, rounds: int) -> list[tuple[Target, list[Figures]]]:
    """Every target, *rounds* times, interleaved."""
    assert setup.bare is not None
    assert setup.ours is not None
    worker = psutil.Process(setup.ours.pid).children()
    results: list[tuple[Target, list[Figures]]] = [(t, []) for t in targets(setup)]
    for target, _ in results:
        check_target(target, setup.job[0] if target.port == setup.ours_port else "ok")
    for number in range(1, rounds + 1):
        for target, runs in results:
            print(f"  round {number}/{rounds}: {target.label}", flush=True)
            if target.port == setup.ours_port:
                runs.append(measure(load, target, setup.ours.pid, worker[0].pid if worker else None))
            else:
                runs.append(measure(load, target, setup.bare.pid, None))
    return results


# --- report ------------------------------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def machine() -> str:
    import starlette
    import uvicorn

    import appjobs

    try:
        import uvloop
    except ImportError:
        loop = "asyncio loop"
    else:
        loop = f"uvloop {uvloop.__version__}"
    return (
        f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"{platform.system()} {platform.release()}; uvicorn {uvicorn.__version__} (httptools, {loop}), "
        f"Starlette {starlette.__version__}\nmeasured: appjobs {appjobs.__version__} from "
        f"{pathlib.Path(appjobs.__file__).parent} (set PYTHONPATH to measure another checkout)"
    )


def median_run(runs: list[Figures]) -> Figures:
    """The run with the median requests/s (the lower middle one for an even count)."""
    return sorted(runs, key=lambda f: f.rps)[(len(runs) - 1) // 2]


def report(load: Load, setup: Setup, rounds: int, results: list[tuple[Target, list[Figures]]]) -> None:
    print(f"\n{machine()}")
    print(
        f"load: {load.describe()}, {load.connections} keep-alive connections, {load.warmup} s warm-up + "
        f"{load.duration} s measured per target, {rounds} round(s) interleaved, on loopback"
    )
    print(
        f"note: the load generator and the servers share this machine's {os.cpu_count()} cores; each server is one "
        "process (an event loop and its thread pool)"
    )
    print(f"job polled: {setup.job[0]}/{setup.job[1]} (status {setup.job_status})")
    head = f"{'target':<42} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'server CPU':>11} {'client':>7} {'others':>7}"
    head += "  errors"
    print(head)
    print(f"{'':<42} {'':>8} {'':>8} {'':>8} {'us/req':>11} {'cores':>7} {'cores':>7}")
    print("-" * len(head))
    medians = {}
    for target, runs in results:
        f = medians[target.role] = median_run(runs)
        errors = f"{sum(r.bad_status for r in runs)} non-2xx, {sum(r.socket_errors for r in runs)} socket"
        print(
            f"{target.label:<42} {f.rps:>8,.0f} {f.p50_ms:>8.2f} {f.p99_ms:>8.2f} {f.server_cpu_us:>11,.0f} "
            f"{f.generator_cores:>7.2f} {f.other_cores:>7.2f}  {errors}"
        )
        if len(runs) > 1:
            print(f"{'  req/s of each round':<42} " + ", ".join(f"{r.rps:,.0f}" for r in runs))
    worker = medians["cookie"].worker_cpu_us, medians["basic"].worker_cpu_us
    print(f"(appjobs' idle worker process used {worker[0]:.0f} and {worker[1]:.0f} us per request beside the server)")
    report_goals(medians)
    warn_if_invalid(results)


def report_goals(medians: dict[str, Figures]) -> None:
    bare, sync, cookie, basic_auth = (medians[role] for role in ("bare", "bare-sync", "cookie", "basic"))
    vs_bare = cookie.rps / bare.rps if bare.rps else 0.0
    basic_ratio = basic_auth.rps / cookie.rps if cookie.rps else 0.0
    print("goals")
    print(
        f"  {'JobStatusGet (cookie) / bare Starlette (async), req/s':<58} {vs_bare:>7.1%}   >= 50%   "
        f"{verdict(vs_bare >= GOAL_VS_BARE)}"
    )
    print(
        f"  {'JobStatusGet (Basic) / JobStatusGet (cookie), req/s':<58} {basic_ratio:>7.1%}   90-110%  "
        f"{verdict(abs(basic_ratio - 1) <= GOAL_BASIC_VS_COOKIE)}"
    )
    print("for reading")
    print(f"  {'bare sync route / bare async route (the thread hop alone)':<58} {sync.rps / max(bare.rps, 1e-9):>7.1%}")
    print(f"  {'JobStatusGet (cookie) / bare sync route':<58} {cookie.rps / max(sync.rps, 1e-9):>7.1%}")


def warn_if_invalid(results: list[tuple[Target, list[Figures]]]) -> None:
    bad = [t.label for t, runs in results if any(r.bad_status or r.socket_errors or not r.requests for r in runs)]
    if bad:
        print(f"\n!!! WARNING: errors or no answers for: {', '.join(bad)}; those figures are not valid")
    busy = max(r.other_cores for _, runs in results for r in runs)
    if busy > OTHER_LOAD_WARNING:
        print(
            f"\n!!! other processes used up to {busy:.2f} cores during the runs: the figures are disturbed. "
            "Rerun on a quiet machine, or with --rounds 3 to compare medians."
        )


# --- main --------------------------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="measured seconds per target (default 10)")
    parser.add_argument("--warmup", type=int, default=2, help="warm-up seconds before each run (default 2)")
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections (default 16)")
    parser.add_argument("--rounds", type=int, default=1, help="repeat every target, interleaved (default 1)")
    parser.add_argument(
        "--generator", choices=("auto", "wrk", "python"), default="auto", help="auto: wrk when installed, else python"
    )
    parser.add_argument("--profile", action="store_true", help="then say where the time goes")
    parser.add_argument("--profile-seconds", type=int, default=10, help="seconds of load per profile run (default 10)")
    parser.add_argument("--keep", action="store_true", help="keep the data directory (its path is printed)")
    parser.add_argument("--postgres", metavar="SERVER", help="serve from a new database on this PostgreSQL server")
    parser.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--load-gen", metavar="SPEC", help=argparse.SUPPRESS)
    return parser.parse_args()


def choose_load(args: argparse.Namespace, data_dir: pathlib.Path) -> Load:
    generator = args.generator
    if generator == "auto":
        generator = "wrk" if shutil.which("wrk") else "python"
        if generator == "python":
            print("wrk is not installed: the Python load generator is used (it takes more of the CPU than wrk)")
    elif generator == "wrk" and not shutil.which("wrk"):
        sys.exit("--generator wrk: wrk is not installed")
    load = Load(generator, args.connections, args.warmup, args.duration)
    if generator == "wrk":
        load.script = data_dir / "report.lua"
        load.script.write_text(WRK_SCRIPT)
    return load


def main() -> None:
    args = parse_args()
    if args.serve_bare:
        serve_bare(args.serve_bare)
        return
    if args.load_gen:
        load_gen(args.load_gen)
        return
    data_dir = pathlib.Path(tempfile.mkdtemp(prefix="appjobs-odata-bench-"))
    print(f"data directory: {data_dir}")
    with contextlib.ExitStack() as stack:
        if args.postgres:  # the servers and `appjobs admin` started below inherit the variable
            import engine_pg

            url, _ = stack.enter_context(engine_pg.fresh_database(args.postgres))
            os.environ["APPJOBS_DATABASE_URL"] = url
            print(f"database: {sa.make_url(url).render_as_string(hide_password=True)}")
        run(args, data_dir)


def run(args: argparse.Namespace, data_dir: pathlib.Path) -> None:
    setup = Setup(data_dir, secrets.token_urlsafe(16))
    try:
        load = choose_load(args, data_dir)
        start_servers(setup)
        print(f"servers up: bare Starlette on port {setup.bare_port}, appjobs serve on port {setup.ours_port}")
        results = run_targets(setup, load, args.rounds)
        report(load, setup, args.rounds, results)
        if args.profile:
            profile(setup, load, args)
    finally:
        setup.stop()
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
