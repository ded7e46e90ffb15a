"""Benchmark of ``appjobs run`` as a scheduler uses it: time to its first request and memory while it waits.

What is measured, next to the guide's curl script measured in the same run on the same machine:

* **Time to first request** (``run_first.py``) -- from just before the process is spawned until a recording
  HTTP server on loopback has read the first request (it answers 401, so the client stops at once). Ours is
  the installed ``appjobs run`` console script; the anchors are ``curl`` doing the guide's CSRF fetch (``HEAD
  <root>/`` with ``X-CSRF-Token: Fetch``) alone, and the same line as the guide's script runs it
  (``TOKEN=$(curl … | grep | cut | tr)`` in ``bash -c``). Each is spawned ``--runs`` times, alternating; p50,
  min and max (goal: p50 at most 200 ms), and the cores other processes used meanwhile.
* **RSS while waiting** -- against a real ``appjobs serve`` on a fresh data directory, ``appjobs run
  /APPJOBS/DEMO_SLEEP --poll-interval 2`` is sampled with psutil once it has written the job's key to its state
  file, while it polls (the largest RSS seen; USS too). The anchor is the guide's flow as a shell loop
  (fetch token, JobSchedule, then ``curl`` JobStatusGet and ``sleep 2`` until F or A): the whole bash process
  tree sampled the same way, and the largest RSS of one ``curl`` poll (``wait4``). Goal: at most 30 MB.
* **Where the time and memory go** -- interpreter start, ``import requests``, ``import appjobs.cli.run``
  (wall time and max RSS), and ``python -X importtime`` of the modules ``appjobs run`` loads.

Run by hand (it is not a test)::

    .venv/bin/python bench/run_bench.py [--runs N] [--sample S] [--keep]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import pathlib
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator

import psutil
from run_first import (
    APPJOBS,
    GUIDE_FETCH,
    OTHER_LOAD_WARNING,
    PASSWORD,
    ROOT_PATH,
    TEMPLATE,
    USER,
    FirstRequests,
    Recorder,
    measure_first_request,
)

GOAL_FIRST_MS = 200.0
GOAL_RSS_MB = 30.0
MB = 1024 * 1024
#: The guide's flow as a waiting loop: fetch, schedule, poll every 2 s until the job is final.
GUIDE_LOOP = f"""set -u
{GUIDE_FETCH}
JOB=$(curl -s -b "$JAR" -H "X-CSRF-Token: $TOKEN" -X POST \\
      "$ROOT/JobSchedule?JobTemplateName='{TEMPLATE}'&JobText='bench-curl'&\\$format=json")
NAME=$(printf '%s' "$JOB" | sed -n 's/.*"JobName" *: *"\\([^"]*\\)".*/\\1/p')
COUNT=$(printf '%s' "$JOB" | sed -n 's/.*"JobRunCount" *: *"\\([^"]*\\)".*/\\1/p')
printf '%s %s\\n' "$NAME" "$COUNT" > "$KEYFILE"
while :; do
  STATUS=$(curl -s -b "$JAR" "$ROOT/JobStatusGet?JobName='$NAME'&JobRunCount='$COUNT'&\\$format=json" \\
           | sed -n 's/.*"JobStatus" *: *"\\([A-Z]*\\)".*/\\1/p')
  case "$STATUS" in F|A) break ;; esac
  sleep 2
done
"""
#: What requests would load without its optional character detection (to show what that costs).
NO_CHARSET_DETECTION = (
    "import sys, warnings; sys.modules['charset_normalizer'] = sys.modules['chardet'] = None; "
    "warnings.simplefilter('ignore')\n"
)
#: Modules whose import cost is shown (cumulative ms, as -X importtime has it); "-" when not imported.
WATCHED_IMPORTS = (
    "appjobs.cli.main",
    "click",
    "appjobs.cli.connection",
    "tomllib",
    "appjobs.cli.runner",
    "appjobs.client",
    "requests",
    "urllib3",
    "urllib3.http2",
    "charset_normalizer.api",
    "http.cookiejar",
    "appjobs.client._models",
    "appjobs.client._parsing",
    "xml.etree.ElementTree",
    "defusedxml",
    "secrets",
)


@dataclasses.dataclass
class Results:
    first: FirstRequests = dataclasses.field(default_factory=FirstRequests)
    rss_mb: dict[str, float] = dataclasses.field(default_factory=dict)
    startup: dict[str, tuple[float, float]] = dataclasses.field(default_factory=dict)  #: ms p50, max RSS MB
    imports_ms: dict[str, float | None] = dataclasses.field(default_factory=dict)
    notes: list[str] = dataclasses.field(default_factory=list)


# --- RSS while waiting ---------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def running_server(data_dir: pathlib.Path) -> Iterator[str]:
    """A real ``appjobs serve`` on *data_dir* with the demo templates and the bench user; yields its service root."""
    subprocess.run([*APPJOBS, "admin", "init", "--data-dir", str(data_dir)], check=True, capture_output=True)
    add = [*APPJOBS, "admin", "users", "add", USER, "--password-stdin", "--data-dir", str(data_dir)]
    subprocess.run(add, input=PASSWORD + "\n", text=True, check=True, capture_output=True)
    port = free_port()
    log = (data_dir / "serve.log").open("wb")
    argv = [*APPJOBS, "serve", "--data-dir", str(data_dir), "--port", str(port), "--grace", "1"]
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    try:
        wait_until(lambda: healthy(port) or proc.poll() is not None, 30, "appjobs serve to answer")
        if proc.poll() is not None:
            sys.exit(f"appjobs serve exited; its output:\n{(data_dir / 'serve.log').read_text()}")
        yield f"http://127.0.0.1:{port}{ROOT_PATH}"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/appjobs/health", timeout=1) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def wait_until(predicate: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            sys.exit(f"gave up waiting for {what} after {timeout:.0f} s")
        time.sleep(0.05)


def tree_rss(proc: psutil.Process) -> int:
    """RSS of *proc* and all its descendants, in bytes (processes that end meanwhile count as 0)."""
    total = 0
    for member in [proc, *proc.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            total += member.memory_info().rss
    return total


def samples(proc: psutil.Process, seconds: float, measure: Callable[[psutil.Process], int]) -> list[int]:
    """*measure* of *proc* every 20 ms for *seconds*, or until *proc* ends; at least one value (0)."""
    taken, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if proc.status() == psutil.STATUS_ZOMBIE:
                break
            taken.append(measure(proc))
        except (psutil.Error, OSError):
            break
        time.sleep(0.02)
    return taken or [0]


def saved_key(state: pathlib.Path) -> str | None:
    try:
        return json.loads(state.read_text()).get("run_count")  # type: ignore[no-any-return]
    except (OSError, ValueError):
        return None


def measure_run_rss(root: str, work: pathlib.Path, sample: float, results: Results) -> None:
    """RSS of a waiting ``appjobs run``, sampled once it has written the job's key, while it polls."""
    state = work / "state.json"
    env = {**os.environ, "APPJOBS_URL": root, "APPJOBS_USER": USER, "APPJOBS_PASSWORD": PASSWORD}
    argv = [*APPJOBS, "run", TEMPLATE, "--poll-interval", "2", "--state-file", str(state)]
    with (work / "run.log").open("wb") as log:
        proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: saved_key(state), 30, "the job's key in the state file")
        process = psutil.Process(proc.pid)
        results.rss_mb["appjobs run (RSS)"] = max(samples(process, sample, lambda p: p.memory_info().rss)) / MB
        results.rss_mb["appjobs run (USS)"] = process.memory_full_info().uss / MB
        results.rss_mb["appjobs run (peak)"] = peak_rss(process) / MB
    finally:
        proc.send_signal(signal.SIGTERM)  # cancels the job (exit 3)
        code = proc.wait(timeout=90)
    if code != 3:
        results.notes.append(f"appjobs run exited {code} on SIGTERM, not 3; see {work / 'run.log'}")


def measure_shell_rss(root: str, work: pathlib.Path, sample: float, results: Results) -> None:
    """RSS of the guide's flow as a waiting shell loop: the bash tree sampled, and one curl poll's peak."""
    keyfile, jar = work / "curl.key", work / "curl.jar"
    env = {**os.environ, "ROOT": root, "USER": USER, "PASSWORD": PASSWORD, "JAR": str(jar), "KEYFILE": str(keyfile)}
    proc = subprocess.Popen(["bash", "-c", GUIDE_LOOP], env=env)
    try:
        wait_until(lambda: keyfile.exists() and keyfile.read_text().strip(), 30, "the shell loop's job key")
        taken = samples(psutil.Process(proc.pid), sample, tree_rss)
        results.rss_mb["shell loop between polls (bash+sleep)"] = min(taken) / MB
        results.rss_mb["shell loop during a poll (+curl)"] = max(taken) / MB
    finally:
        proc.kill()
        proc.wait()
    slow = Recorder(delay=1.0)  # one poll, held for a second so that curl can be watched while it waits
    try:
        poll = f"{slow.root}/JobStatusGet?JobName='X'&JobRunCount='Y'&$format=json"
        curl = subprocess.Popen(["curl", "-s", "-o", "/dev/null", "-b", str(jar), poll])
        results.rss_mb["curl alone, one poll (peak)"] = max(samples(psutil.Process(curl.pid), 10, peak_rss)) / MB
        curl.wait()
    finally:
        slow.close()


def peak_rss(proc: psutil.Process) -> int:
    """The largest RSS *proc* has had (VmHWM). Not getrusage: a child's ru_maxrss starts at its parent's size."""
    for line in pathlib.Path(f"/proc/{proc.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


# --- where the time and memory go --------------------------------------------------------------------------


def startup_cost(code: str, runs: int) -> tuple[float, float]:
    """p50 ms of ``python -c CODE`` and its peak RSS in MB (VmHWM: getrusage would start at this process's size)."""
    times, rss = [], 0.0
    probe = f"{code}\nprint(next(x for x in open('/proc/self/status') if x.startswith('VmHWM:')).split()[1])"
    for _ in range(runs):
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
        times.append((time.perf_counter() - start) * 1000)
        rss = int(out.split()[-1]) / 1024
    return statistics.median(times), rss


def import_times() -> dict[str, float | None]:
    """Cumulative import ms of :data:`WATCHED_IMPORTS` when ``appjobs run`` loads (``-X importtime``)."""
    code = "import appjobs.cli.main, appjobs.cli.run"
    argv = [sys.executable, "-X", "importtime", "-c", code]
    stderr = subprocess.run(argv, capture_output=True, text=True, check=True).stderr
    seen: dict[str, float] = {}
    total = 0.0
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, own, cumulative, name = (part.strip() for part in line.replace("import time:", "|").split("|"))
        total += int(own) / 1000
        seen.setdefault(name, int(cumulative) / 1000)
    return {"all imports of appjobs run": total} | {name: seen.get(name) for name in WATCHED_IMPORTS}


def measure_costs(runs: int, results: Results) -> None:
    for label, code in (
        ("python -c pass", "pass"),
        ("python -c 'import click'", "import click"),
        ("python -c 'import requests'", "import requests"),
        ("  the same, charset_normalizer blocked", NO_CHARSET_DETECTION + "import requests"),
        ("python -c 'import appjobs.cli.run'", "import appjobs.cli.main, appjobs.cli.run"),
    ):
        results.startup[label] = startup_cost(code, runs)
    results.imports_ms = import_times()


# --- report --------------------------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def row(name: str, ours: str, goal: str = "", ok: bool | None = None) -> None:
    print(f"{name:<46} {ours:>24}   {goal:<14} {'' if ok is None else verdict(ok)}".rstrip())


def triple(values: list[float]) -> str:
    return f"{statistics.median(values):.0f} / {min(values):.0f} / {max(values):.0f}" if values else "n/a"


def report(args: argparse.Namespace, results: Results) -> None:
    print(
        f"\nmachine: {os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.system()} "
        f"{platform.release()}, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    print(f"settings: --runs {args.runs} --sample {args.sample}; ours: {' '.join(APPJOBS)} run")
    print(f"{'figure':<46} {'ours':>24}   {'goal':<14} verdict")
    print("-" * 96)
    first = results.first.ms.get("appjobs run", [])
    p50 = statistics.median(first) if first else float("inf")
    row("time to first request p50 / min / max (ms)", triple(first), "p50 <= 200 ms", p50 <= GOAL_FIRST_MS)
    row("  cores other processes used meanwhile", f"{results.first.other_cores:.2f}")
    rss = results.rss_mb.get("appjobs run (RSS)", float("inf"))
    row("RSS of a waiting appjobs run (MB)", f"{rss:.1f}", "<= 30 MB", rss <= GOAL_RSS_MB)
    row("  its USS: memory it alone holds (MB)", f"{results.rss_mb.get('appjobs run (USS)', 0.0):.1f}")
    row("  its peak RSS since it started (MB)", f"{results.rss_mb.get('appjobs run (peak)', 0.0):.1f}")
    print("anchors: the guide's curl script (same run, same machine)")
    for name, values in results.first.ms.items():
        if name != "appjobs run":
            row(f"  first request, {name} (ms)", triple(values))
    for name, value in results.rss_mb.items():
        if not name.startswith("appjobs run"):
            row(f"  RSS, {name} (MB)", f"{value:.1f}")
    print("where the time and memory go (python -c, p50 ms / max RSS MB)")
    for name, (ms, mb) in results.startup.items():
        row(f"  {name}", f"{ms:.0f} ms / {mb:.1f} MB")
    print("imports of appjobs run (python -X importtime, cumulative ms; - = not imported)")
    for name, ms in results.imports_ms.items():
        row(f"  {name}", "-" if ms is None else f"{ms:.1f}")
    if results.first.other_cores > OTHER_LOAD_WARNING:
        results.notes.append("other processes were busy during the first requests: start-up times are stretched")
    for note in results.notes:
        print(f"!!! {note}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="spawns per command for the first request (default 15)")
    parser.add_argument("--sample", type=float, default=6.0, help="seconds of RSS sampling (default 6)")
    parser.add_argument("--keep", action="store_true", help="keep the working directory (its path is printed)")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    for tool in ("curl", "bash"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is needed for the anchors")
    work = pathlib.Path(tempfile.mkdtemp(prefix="appjobs-run-bench-"))
    print(f"working directory: {work}")
    results = Results()
    try:
        print(f"time to first request: {args.runs} spawns of each command, alternating")
        results.first = measure_first_request(args.runs, work / "first.jar")
        print(f"RSS while waiting: a real appjobs serve, {TEMPLATE}, {args.sample:.0f} s of samples each")
        with running_server(work / "data") as root:
            measure_run_rss(root, work, args.sample, results)
            measure_shell_rss(root, work, args.sample, results)
        print("start-up and import costs")
        measure_costs(max(5, args.runs // 2), results)
        report(args, results)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
