"""Mutation testing of one module, several, or all: how many one-line defects the tests catch.

    .venv/bin/python mutation/run.py odata/filter.py [MODULE ...]   # or --all
    .venv/bin/python mutation/run.py --report odata/filter.py        # re-read the last run, run nothing
    .venv/bin/python mutation/run.py --again odata/filter.py         # re-run only last run's survivors
    .venv/bin/python mutation/run.py --since 383147c storage/database.py  # only lines changed since a commit

Install the tool first: ``pip install -e '.[mutation]'`` (cosmic-ray). For each module named in
``mutation/config.toml`` this copies ``src/``, ``tests/`` and ``pyproject.toml`` into
``mutation/.work/<module>/`` and lets cosmic-ray change the copy, one mutant at a time, running that
module's test files (``pytest -x``) with ``PYTHONPATH`` pointing at the copy. The checkout itself is
never changed, so you can go on working (and testing) while it runs, and the real processes the
integration tests start (``python -m appjobs serve``) import the mutant too: they inherit
``PYTHONPATH``. Mutants run one after another: one process at a time, sized for a 2-core machine.

A mutant is *killed* when the tests fail (or hang past the module's timeout), *survives* when they
pass. Survivors listed in ``mutation/equivalents.txt`` (reviewed: no input can tell them from the
original) are left out of the score: ``rate = killed / (mutants - equivalent)``. The other survivors are
printed with their line and change: each is a test to write, or an equivalent to argue for.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import datetime as dt
import functools
import os
import pathlib
import shlex
import shutil
import subprocess
import sys
import time
import tomllib

ROOT = pathlib.Path(__file__).resolve().parent.parent
HERE = ROOT / "mutation"
WORK = HERE / ".work"
COPIED = ("src", "tests", "pyproject.toml")
NOT_RUN = "not run: operator not kept, an annotation or a keyword-only marker"
UNCHANGED = "not run: the line is unchanged since the --since commit"
SKIP_COPY = shutil.ignore_patterns("__pycache__", ".hypothesis", "*.egg-info", ".pytest_cache")


@dataclasses.dataclass(frozen=True)
class Mutant:
    """One mutant's outcome, keyed the way equivalents.txt names it (not by line number, which drifts)."""

    module: str
    operator: str
    occurrence: int
    line: int
    change: str  #: "original line -> mutated line", both stripped
    outcome: str  #: killed, survived, equivalent or incompetent

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.module, self.operator, self.change)


def load_config() -> dict:
    with (HERE / "config.toml").open("rb") as f:
        return tomllib.load(f)


def load_equivalents() -> dict[tuple[str, str, str], str]:
    """``module :: operator :: original -> mutated :: reason`` per line; # starts a comment."""
    found = {}
    for number, raw in enumerate((HERE / "equivalents.txt").read_text().splitlines(), 1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        parts = [p.strip() for p in raw.split(" :: ")]
        if len(parts) != 4 or not parts[3]:
            sys.exit(f"mutation/equivalents.txt:{number}: want 'module :: operator :: change :: reason'")
        found[(parts[0], parts[1], parts[2])] = parts[3]
    return found


def test_command(spec: dict) -> str:
    """The command that runs a module's tests; with ``isolate``, in a PID namespace of its own (``isolate.py``)."""
    pytest = [sys.executable, "-m", "pytest", "-x", "-q", "-n", "0", "-p", "no:cacheprovider", *spec["tests"]]
    if spec.get("isolate", False):
        unshare = ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child"]
        pytest = [*unshare, sys.executable, str(HERE / "isolate.py"), *pytest]
    return shlex.join(pytest)


def prepare(module: str, spec: dict) -> pathlib.Path:
    """A fresh copy of the tree and a cosmic-ray config that mutates the module in the copy."""
    work = WORK / module.replace("/", "_").removesuffix(".py")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, work / name, ignore=SKIP_COPY)
        else:
            shutil.copy2(source, work / name)
    target = work / "src" / "appjobs" / module
    lines = [
        "[cosmic-ray]",
        f'module-path = "{target}"',
        f"timeout = {float(spec['timeout'])}",
        "excluded-modules = []",
        f"test-command = {test_command(spec)!r}",
        "[cosmic-ray.distributor]",
        'name = "local"',
    ]
    (work / "cosmic-ray.toml").write_text("\n".join(lines) + "\n")
    return work


def environment(work: pathlib.Path) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(work / "src"), PYTHONDONTWRITEBYTECODE="1")
    env.pop("PYTEST_ADDOPTS", None)
    return env


def cosmic_ray(work: pathlib.Path, *args: str) -> None:
    tool = pathlib.Path(sys.executable).parent / "cosmic-ray"
    subprocess.run([str(tool), *args], cwd=work, env=environment(work), check=True)


def baseline(work: pathlib.Path, spec: dict) -> float:
    """The unmutated copy must pass its tests, and must be what they import; returns their run time."""
    env = environment(work)
    where = subprocess.run(
        [sys.executable, "-c", "import appjobs; print(appjobs.__file__)"],
        env=env,
        text=True,
        capture_output=True,
        check=False,
    )
    if not where.stdout.startswith(str(work)):
        sys.exit(f"the tests would import {where.stdout.strip() or where.stderr}, not the copy in {work}")
    start = time.monotonic()
    run = subprocess.run(
        shlex.split(test_command(spec)),
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if run.returncode != 0:
        sys.exit(f"the tests fail without any mutant; fix them first:\n{run.stdout[-3000:]}")
    return time.monotonic() - start


@functools.cache
def annotations(source: pathlib.Path) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Where the module's annotations are, if it postpones them (``from __future__ import annotations``).

    Postponed annotations are strings that nothing here evaluates, so ``int | None`` changed to
    ``int & None`` is the same program: such mutants are not run, nor counted.
    """
    tree = ast.parse(source.read_text())
    postponed = any(
        isinstance(node, ast.ImportFrom) and node.module == "__future__" and node.names[0].name == "annotations"
        for node in tree.body
    )
    if not postponed:
        return []
    found = []
    for node in ast.walk(tree):
        for annotation in (getattr(node, "annotation", None), getattr(node, "returns", None)):
            if isinstance(annotation, ast.expr):
                end = (annotation.end_lineno or annotation.lineno, annotation.end_col_offset or 0)
                found.append(((annotation.lineno, annotation.col_offset), end))
    return found


def not_behaviour(source: pathlib.Path, where: tuple[int, int]) -> bool:
    """True for a mutant that changes no behaviour by construction: an annotation, or the marker ``*,``.

    cosmic-ray turns the keyword-only marker of a signature (``def f(a, *, b)``) into ``/``: that
    changes which call forms are allowed, not what any call does, and every caller in the tree still
    works; it would be a survivor in every module with keyword-only parameters.
    """
    if any(a <= where < b for a, b in annotations(source)):
        return True
    line = source.read_text().splitlines()[where[0] - 1]
    return line[where[1] : where[1] + 1] == "*" and line[where[1] + 1 :].lstrip().startswith(",")


def git(*args: str) -> subprocess.CompletedProcess[str]:
    """``git ARGS`` in the checkout, its output captured."""
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)


def changed_lines(module: str, since: str) -> set[int]:
    """The lines of *module* as it is now that ``git diff`` shows as new or changed since commit *since*."""
    diff = git("diff", "-U0", since, "--", f"src/appjobs/{module}")
    if diff.returncode != 0:
        sys.exit(f"--since {since}: {diff.stderr.strip()}")
    lines: set[int] = set()
    for hunk in (line for line in diff.stdout.splitlines() if line.startswith("@@")):
        start, _, count = hunk.split()[2].removeprefix("+").partition(",")
        lines.update(range(int(start), int(start) + int(count or 1)))
    return lines


def mark_skipped(
    work: pathlib.Path, keep: set[str], previous: dict[tuple[str, str, int], object], lines: set[int] | None
) -> None:
    """Skip the operators not kept, annotations and, with *lines*, every other line; for --again, carry over kills."""
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    with use_db(str(work / "session.sqlite"), WorkDB.Mode.open) as db:
        for item in list(db.pending_work_items):
            (mutation,) = item.mutations
            carried = previous.get((mutation.operator_name, str(mutation.start_pos), mutation.occurrence))
            if mutation.operator_name not in keep or not_behaviour(mutation.module_path, tuple(mutation.start_pos)):
                db.set_result(item.job_id, WorkResult(output=NOT_RUN, worker_outcome=WorkerOutcome.SKIPPED))
            elif lines is not None and mutation.start_pos[0] not in lines:
                db.set_result(item.job_id, WorkResult(output=UNCHANGED, worker_outcome=WorkerOutcome.SKIPPED))
            elif carried is not None:
                db.set_result(item.job_id, carried)


def previous_kills(work: pathlib.Path) -> dict[tuple[str, str, int], object]:
    from cosmic_ray.work_db import WorkDB, use_db

    session = work / "session.sqlite"
    if not session.exists():
        sys.exit(f"--again needs a previous run in {work}")
    with use_db(str(session), WorkDB.Mode.open) as db:
        return {
            (item.mutations[0].operator_name, str(item.mutations[0].start_pos), item.mutations[0].occurrence): result
            for item, result in db.completed_work_items
            if result.is_killed
        }


def change_of(diff: str) -> str:
    """``original -> mutated``: the changed lines, stripped, blank ones left out, several joined by `` / ``."""
    lines = diff.splitlines()
    removed = [line[1:].strip() for line in lines if line.startswith("-") and not line.startswith("---")]
    added = [line[1:].strip() for line in lines if line.startswith("+") and not line.startswith("+++")]
    return f"{' / '.join(filter(None, removed))} -> {' / '.join(filter(None, added))}".strip()


def outcomes(module: str, work: pathlib.Path, equivalents: dict) -> list[Mutant]:
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome

    found = []
    with use_db(str(work / "session.sqlite"), WorkDB.Mode.open) as db:
        for item, result in db.completed_work_items:
            if result.worker_outcome is WorkerOutcome.SKIPPED:  # not kept (NOT_RUN); carried kills are NORMAL
                continue
            (mutation,) = item.mutations
            change = change_of(result.diff or "")
            if result.test_outcome is TestOutcome.INCOMPETENT or result.worker_outcome is WorkerOutcome.NO_TEST:
                outcome = "incompetent"
            elif result.is_killed:
                outcome = "killed"
            else:
                outcome = "equivalent" if (module, mutation.operator_name, change) in equivalents else "survived"
            found.append(
                Mutant(module, mutation.operator_name, mutation.occurrence, mutation.start_pos[0], change, outcome)
            )
    return sorted(found, key=lambda m: (m.line, m.operator, m.occurrence))


def summary(module: str, mutants: list[Mutant]) -> dict[str, object]:
    count = {o: sum(m.outcome == o for m in mutants) for o in ("killed", "survived", "equivalent", "incompetent")}
    scored = count["killed"] + count["survived"]
    rate = 100.0 * count["killed"] / scored if scored else 100.0
    return {"module": module, "mutants": scored + count["equivalent"], **count, "rate": rate}


def commit() -> str:
    head, dirty = git("rev-parse", "--short", "HEAD"), git("status", "--porcelain", "src", "tests")
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def run_module(module: str, spec: dict, keep: set[str], again: bool, since: str | None) -> None:
    previous = previous_kills(WORK / module.replace("/", "_").removesuffix(".py")) if again else {}
    lines = changed_lines(module, since) if since else None
    work = prepare(module, spec)
    seconds = baseline(work, spec)
    print(f"{module}: its tests take {seconds:.1f} s unmutated; running the mutants", flush=True)
    cosmic_ray(work, "init", "cosmic-ray.toml", "session.sqlite")
    mark_skipped(work, keep, previous, lines)
    (work / "since.txt").write_text(since or "")  # read by the report: the row covers the changed lines only
    cosmic_ray(work, "exec", "cosmic-ray.toml", "session.sqlite")


def report(modules: list[str], equivalents: dict) -> None:
    rows, stale = [], []
    for module in modules:
        work = WORK / module.replace("/", "_").removesuffix(".py")
        if not (work / "session.sqlite").exists():
            print(f"{module}: not run yet")
            continue
        mutants = outcomes(module, work, equivalents)
        for m in mutants:
            if m.outcome == "survived":
                print(f"  SURVIVED {m.module}:{m.line} {m.operator} #{m.occurrence}: {m.change}")
        killed_keys = {m.key for m in mutants if m.outcome == "killed"}
        stale += [k for k in equivalents if k in killed_keys]
        since = (work / "since.txt").read_text() if (work / "since.txt").exists() else ""
        rows.append({**summary(module, mutants), "scope": f" (lines changed since {since})" if since else ""})
    today, head = dt.date.today().isoformat(), commit()
    print("\n| module | mutants | killed | equivalent | survived | rate | date | commit |")
    print("|---|---:|---:|---:|---:|---:|---|---|")
    for r in rows:
        print(
            f"| `{r['module']}`{r['scope']} | {r['mutants']} | {r['killed']} | {r['equivalent']} | {r['survived']} "
            f"| {r['rate']:.1f}% | {today} | {head} |"
        )
    for key in stale:
        print(f"warning: listed as equivalent but killed, so not equivalent: {' :: '.join(key)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help="paths under src/appjobs, as named in mutation/config.toml")
    parser.add_argument("--all", action="store_true", help="every module in mutation/config.toml")
    parser.add_argument("--report", action="store_true", help="only print the last run's results")
    parser.add_argument("--again", action="store_true", help="re-run only the mutants that survived last time")
    parser.add_argument("--since", metavar="COMMIT", help="only mutants on lines changed since COMMIT (git diff)")
    args = parser.parse_args()
    config = load_config()
    modules = list(config["modules"]) if args.all else args.modules
    unknown = [m for m in modules if m not in config["modules"]]
    if not modules or unknown:
        parser.error(f"name modules from mutation/config.toml ({', '.join(config['modules'])}); unknown: {unknown}")
    equivalents = load_equivalents()
    if not args.report:
        for module in modules:
            run_module(module, config["modules"][module], set(config["operators"]["keep"]), args.again, args.since)
    report(modules, equivalents)


if __name__ == "__main__":
    main()
