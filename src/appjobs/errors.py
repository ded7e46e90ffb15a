"""The one exception tree of appjobs.

Every error appjobs raises on purpose derives from :class:`AppjobsError`.
The families say *who* must act, which is what the HTTP layer and the
command line need to pick a status code or an exit code::

    AppjobsError
    ├── InvalidInput            the caller sent something malformed
    │   ├── TemplateFileError     a template TOML file is broken (names file, line, field)
    │   └── MalformedLiteral      an OData literal in a URL cannot be parsed
    ├── NotFound                something named does not exist
    │   ├── TemplateNotFound      (SAP message APJ_RT/015)
    │   └── JobNotFound           (SAP message APJ_RT/003)
    ├── Conflict                the request clashes with what is stored
    │   ├── DuplicateTemplate
    │   ├── DuplicateUser
    │   └── JobStateError         e.g. cancel a finished job (APJ_RT/004, /040)
    │       └── RestartRefused      JobRestart of a job that cannot be restarted (APJ_RT/081, /082)
    ├── AuthError               logon or authorization refused
    ├── ConfigurationError      settings, data directory, environment
    └── StorageError            the database failed underneath us
        └── StorageUnavailable    it cannot be used now (down, unreachable, locked), and may be soon
            └── StorageFull         its disk (or quota) is full: nothing can be stored until space is freed

Business errors carry an SAP message id (``message_id``, e.g. ``"APJ_RT/003"``)
so that the OData layer can answer with the code a real tenant would send.
``server/errors.py`` is the only place that maps these to HTTP responses and
``cli/main.py`` the only place that maps them to exit codes.

Like procrastinate, the class docstring is the default message, so a
subclass is a name and a sentence::

    >>> raise JobNotFound()
    Traceback (most recent call last):
    appjobs.errors.JobNotFound: Job doesn't exist.
"""

from __future__ import annotations


class AppjobsError(Exception):
    """Something went wrong in appjobs."""

    #: SAP message id (message class/number) a real tenant would answer with.
    message_id: str | None = None

    def __init__(self, message: str | None = None, *, message_id: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())
        if message_id is not None:
            self.message_id = message_id

    @property
    def message(self) -> str:
        return str(self)

    @property
    def public_message(self) -> str:
        """What a caller over the network may read: :attr:`message`, unless that names our internals."""
        return self.message


class InvalidInput(AppjobsError):
    """The input is not valid."""


class TemplateFileError(InvalidInput):
    """The template file is not valid."""


class MalformedLiteral(InvalidInput):
    """Malformed URI literal syntax"""


class NotFound(AppjobsError):
    """Not found."""


class TemplateNotFound(NotFound):
    """Job template doesn't exist."""

    message_id = "APJ_RT/015"


class JobNotFound(NotFound):
    """Job doesn't exist."""

    message_id = "APJ_RT/003"


class UserNotFound(NotFound):
    """User doesn't exist or is invalid."""

    message_id = "APJ_RT/083"


class NotAuthorized(AppjobsError):
    """User has no authorization to schedule the job."""

    message_id = "APJ_RT/077"


class Conflict(AppjobsError):
    """The request conflicts with the stored state."""


class DuplicateTemplate(Conflict):
    """A job template with this name already exists."""


class DuplicateUser(Conflict):
    """A communication user with this name already exists."""


class JobStateError(Conflict):
    """The job's status does not allow this."""


class RestartRefused(JobStateError):
    """Can't restart the job due to the status"""

    message_id = "APJ_RT/081"

    def __init__(self, message: str | None = None, *, message_id: str | None = None, why: str = "") -> None:
        super().__init__(message, message_id=message_id)
        #: What SAP's terse message leaves out (the job's status, its failed step); the error document's detail.
        self.why = why


class AuthError(AppjobsError):
    """Logon or authorization refused."""


class ConfigurationError(AppjobsError):
    """The configuration is not valid."""


class StorageError(AppjobsError):
    """The database failed."""


class StorageUnavailable(StorageError):
    """The database cannot be used now; the same request may succeed later. Try again later."""

    @property
    def public_message(self) -> str:
        # The driver's words name the database's host and port: for the log, not for the caller.
        return (type(self).__doc__ or "").strip()


class StorageFull(StorageUnavailable):
    """The server's storage is full: nothing can be stored until space is freed. Try again later."""
