"""Exit codes: the one place where errors and job outcomes become a number a scheduler can act on.

Control-M, Autosys, Tidal and cron read only a process's exit code, so it
must say what happened without a log. These are documented in the README
and in ``appjobs --help``:

==  ===================================================================================
0   success; for ``run``: the job finished (F, and W unless ``--strict-warnings``)
1   the job failed (A or U), or a server-side operation failed (e.g. the storage is full)
2   usage or configuration error, bad input, an unknown or ambiguous template or job
3   cancelled: the job was (C, or deleted before it ran), or this program got a signal
4   timeout (``--start-timeout`` or ``--timeout``); the job was cancelled or left
5   logon or authorization refused (HTTP 401/403)
6   network or transport failure that lasted past the retry window
7   the job finished with warnings (W) under ``--strict-warnings``
8   the server broke the protocol: persistent 5xx, or an answer that cannot be read
==  ===================================================================================

Errors of the server side (:mod:`appjobs.errors`) and of the client
(:mod:`appjobs.client`) both end up in :func:`for_error`; the client's
tree is looked at only when such an error exists, so server commands never
import it.
"""

from __future__ import annotations

import enum

from appjobs import errors


class ExitCode(enum.IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2
    CANCELLED = 3
    TIMEOUT = 4
    REFUSED = 5
    TRANSPORT = 6
    WARNINGS = 7
    PROTOCOL = 8


#: Status letters of a job that ended, and the exit code of ``appjobs run`` for each.
#: W is F unless --strict-warnings; K (this run was skipped) did not do the work.
FINAL_STATUS_EXITS = {
    "F": ExitCode.OK,
    "W": ExitCode.OK,
    "A": ExitCode.FAILED,
    "U": ExitCode.FAILED,
    "K": ExitCode.FAILED,
    "C": ExitCode.CANCELLED,
    "D": ExitCode.CANCELLED,
}


def for_status(letter: str, *, strict_warnings: bool = False) -> ExitCode:
    """The exit code of ``appjobs run`` for a job that ended with status *letter*."""
    if letter == "W" and strict_warnings:
        return ExitCode.WARNINGS
    return FINAL_STATUS_EXITS.get(letter, ExitCode.FAILED)


def for_error(exc: BaseException) -> ExitCode:
    """The exit code for an error of the server side or of the client."""
    if isinstance(exc, errors.AppjobsError):
        if isinstance(exc, errors.InvalidInput | errors.NotFound | errors.Conflict | errors.ConfigurationError):
            return ExitCode.USAGE
        if isinstance(exc, errors.AuthError):
            return ExitCode.REFUSED
        return ExitCode.FAILED  # StorageError, StorageFull among them: the operator must act, not the caller
    return _for_client_error(exc)


def _for_client_error(exc: BaseException) -> ExitCode:
    from appjobs import client  # only a client error gets here, so the client is loaded already

    if isinstance(exc, client.AuthenticationError | client.AuthorizationError | client.CsrfError):
        return ExitCode.REFUSED
    if isinstance(exc, client.TransportError):
        return ExitCode.TRANSPORT
    if isinstance(exc, client.ProtocolError | client.ServiceUnavailable):
        return ExitCode.PROTOCOL
    if isinstance(exc, client.WrongHostError | client.NotFound | client.AmbiguousTemplate):
        return ExitCode.USAGE
    if isinstance(exc, client.ServiceError):
        return ExitCode.USAGE if exc.status == 400 else ExitCode.PROTOCOL
    return ExitCode.FAILED
