"""Restarting a failed job from the command line: ``appjobs run --restart-from-failed`` and ``appjobs restart --wait``.

A restart is a run whose job comes from JobRestart instead of JobSchedule:
:class:`RestartRunner` is :class:`~appjobs.cli.runner.Runner` with that one
step replaced, so everything else a run promises holds for the copy too:
its key on stderr at once and in ``--state-file``, each status change, the
exit code of its final status, and JobCancel of the copy when the run is
cancelled (SIGTERM, SIGINT, SIGHUP) or times out.

What a run cannot do for a restart: look the copy up when JobRestart's answer
is lost. The copy has the original's text, so it cannot be told from other
restarts; the run ends (exit 6) saying that JobRestart may have taken effect,
and never sends it again.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from appjobs import errors
from appjobs.cli import statefile
from appjobs.cli.runner import Runner, RunOptions
from appjobs.client import JobKey, RestartMode

#: What each mode does, in the words the commands print.
MEANING = {RestartMode.FROM_FAILED: "from its failed step", RestartMode.AFTER_FAILED: "after its failed step"}
#: ``appjobs run`` options that make a new job, which a restart cannot take: SAP copies the failed job as it was.
_SCHEDULE_ONLY = {"by_text": "--by-text", "text": "--text", "job_user": "--job-user", "test_mode": "--test-mode"}


class RestartRunner(Runner):
    """A run of the restarted copy of *original* (JobRestart in *mode*) instead of a new job."""

    def __init__(self, client: Any, options: RunOptions, report: Any, original: JobKey, mode: RestartMode) -> None:
        super().__init__(client, options, report)
        self.original = original
        self.mode = mode

    def _schedule(self) -> JobKey:
        sent_at = dt.datetime.now(dt.UTC)
        key = self.key = self.client.restart(self.original, self.mode)
        self._existed = True  # a JobNotFound from now on means the copy was deleted (D)
        text = f"restart of {self.original.name} {self.original.run_count}"
        self._save(statefile.State(self.client.service_url, self._template, text, sent_at, key))
        self.say(
            f"job {key.name} {key.run_count} restarts job {self.original.name} {self.original.run_count} "
            f"{MEANING[self.mode]} (JobRestartMode {self.mode.value})"
        )
        return key


def requested(flags: dict[str, Any]) -> tuple[JobKey, RestartMode] | None:
    """The job and mode ``appjobs run --restart-from-failed``/``--restart-after-failed`` asks for (taken out of
    *flags*), or None; a usage error when they are combined with each other, a TEMPLATE, --resume, or an option
    that only a new job can take."""
    from_failed, after_failed = flags.pop("restart_from_failed", None), flags.pop("restart_after_failed", None)
    if not (from_failed or after_failed):
        return None
    if from_failed and after_failed:
        raise errors.InvalidInput("--restart-from-failed and --restart-after-failed exclude each other")
    which = "--restart-from-failed" if from_failed else "--restart-after-failed"
    if flags.get("template"):
        raise errors.InvalidInput(f"{which} restarts a job: give it without a TEMPLATE")
    if flags.get("resume"):
        raise errors.InvalidInput(f"{which} starts a copy; --resume reattaches to a job: give one of them")
    given = [name for flag, name in _SCHEDULE_ONLY.items() if flags.get(flag)] + (
        ["-p"] if flags.get("parameters") else []
    )
    if given:
        raise errors.InvalidInput(
            f"{which} copies the failed job with its text, job user, test mode and parameters, which cannot be "
            f"changed (as in SAP's Application Jobs app); leave out {', '.join(given)}"
        )
    name, run_count = from_failed or after_failed
    return JobKey(name, run_count), RestartMode.FROM_FAILED if from_failed else RestartMode.AFTER_FAILED


def as_json(outcome_json: dict[str, Any], original: JobKey, mode: RestartMode) -> dict[str, Any]:
    """A run's JSON report with what was restarted: ``restart_of`` (job_name, run_count) and ``restart_mode``."""
    restart = {"job_name": original.name, "run_count": original.run_count}
    return {**outcome_json, "restart_of": restart, "restart_mode": mode.value}
