"""The application-job engine: templates, the job service, and the worker that runs steps.

:class:`JobService` is what the API and admin commands call; it writes to the
store and wakes the workers. :class:`Worker` runs in its own process, claims
jobs and runs each step as a supervised child process.
"""

from __future__ import annotations

from appjobs.engine.service import JobService
from appjobs.engine.wake import Waker
from appjobs.engine.worker import Worker, WorkerOptions

__all__ = ["JobService", "Waker", "Worker", "WorkerOptions"]
