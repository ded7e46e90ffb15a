"""The client package as its users meet it: public names, one exception tree, light and standalone imports."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

import appjobs
import appjobs.client
from appjobs import client as client_package
from appjobs.client import (
    AmbiguousTemplate,
    AuthenticationError,
    AuthorizationError,
    BatchNotSupported,
    BatchRefused,
    Client,
    ClientError,
    CsrfError,
    JobNotFound,
    JobStateError,
    NotFound,
    OperationNotOffered,
    OutcomeUnknown,
    ProtocolError,
    RestartRefused,
    ScheduleError,
    ScheduleOutcomeUnknown,
    ServiceError,
    ServiceUnavailable,
    TemplateNotFound,
    TransportError,
    UserNotFound,
    WrongHostError,
)
from appjobs.client._errors import service_error


def test_all_lists_every_public_name_sorted() -> None:
    """``__all__`` is sorted and names exactly the public members (as httpx checks its own)."""
    public = sorted(name for name in vars(client_package) if not name.startswith("_") and name != "annotations")
    assert client_package.__all__ == sorted(client_package.__all__)
    assert client_package.__all__ == public


def test_public_names_say_they_come_from_appjobs_client() -> None:
    """Reprs and tracebacks name ``appjobs.client.X``, not a private module."""
    for name in client_package.__all__:
        assert getattr(client_package, name).__module__ == "appjobs.client"


def test_appjobs_client_is_the_client() -> None:
    """``appjobs.Client`` is the client, loaded on first use."""
    assert appjobs.Client is Client
    assert "Client" in appjobs.__all__


def test_every_error_is_a_client_error() -> None:
    """One root: ``except ClientError`` catches everything the client raises on purpose."""
    errors = [obj for obj in vars(client_package).values() if inspect.isclass(obj) and issubclass(obj, Exception)]
    assert len(errors) == 22
    assert all(issubclass(error, ClientError) for error in errors)


@pytest.mark.parametrize(
    ("child", "parent"),
    [
        (OutcomeUnknown, TransportError),
        (ScheduleOutcomeUnknown, OutcomeUnknown),
        (JobNotFound, NotFound),
        (TemplateNotFound, NotFound),
        (UserNotFound, NotFound),
        (OperationNotOffered, NotFound),
        (RestartRefused, JobStateError),
        (BatchNotSupported, OperationNotOffered),
        (BatchRefused, ScheduleError),
        (NotFound, ServiceError),
        (AuthorizationError, ServiceError),
        (JobStateError, ServiceError),
        (ScheduleError, ServiceError),
        (ServiceUnavailable, ServiceError),
    ],
)
def test_the_families(child: type, parent: type) -> None:
    """The families of the tree, as drawn in the client's exception docstring."""
    assert issubclass(child, parent)


@pytest.mark.parametrize(
    "family",
    [TransportError, ProtocolError, WrongHostError, AuthenticationError, CsrfError, ServiceError, AmbiguousTemplate],
)
def test_the_families_are_separate(family: type) -> None:
    """Each family hangs directly from ClientError, so catching one never catches another."""
    assert family.__bases__ == (ClientError,)


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("APJ_RT/003", 400, JobNotFound),
        ("APJ_RT/039", 400, JobNotFound),
        ("APJ_RT/015", 400, TemplateNotFound),
        ("APJ_RT/083", 400, UserNotFound),
        ("APJ_RT/040", 400, JobStateError),
        ("APJ_RT/081", 400, RestartRefused),
        ("APJ_RT/082", 400, RestartRefused),
        ("APJ_RT/077", 400, AuthorizationError),
        ("APJ_RT/029", 400, AuthorizationError),
        ("APJ_RT/032", 400, ScheduleError),
        ("/IBP/CM_PL_OP/201", 400, ServiceError),
        (None, 404, NotFound),
        (None, 403, AuthorizationError),
        (None, 429, ServiceUnavailable),
        (None, 503, ServiceUnavailable),
        ("005056A509B11EE1BB8AF4A65EC3CA20", 400, ServiceError),
    ],
)
def test_sap_codes_and_statuses_map_to_errors(code: str | None, status: int, expected: type) -> None:
    """APJ_RT codes pick the error class; without a known code the HTTP status does."""
    error = service_error("message", status=status, code=code)
    assert type(error) is expected
    assert (error.code, error.status, str(error)) == (code, status, "message")


def test_default_messages_come_from_the_docstrings() -> None:
    """An error raised without a message says what its docstring says."""
    assert str(JobNotFound()) == "Job doesn't exist."
    assert JobNotFound().status is None


@pytest.mark.parametrize(
    "url",
    [
        "ftp://host/sap/opu/odata/sap/BC_EXT_APPJOB_MANAGEMENT",
        "my123-api.example.com/sap/opu/odata/sap/BC_EXT_APPJOB_MANAGEMENT",
        "https:///sap/opu/odata",
        "https://host/sap/opu/odata/sap/BC_EXT_APPJOB_MANAGEMENT;v=0002?sap-client=100",
    ],
)
def test_a_bad_service_url_is_refused_at_once(url: str) -> None:
    """A URL that cannot be a service root fails when the client is made, not at its first call."""
    with pytest.raises(ValueError, match="service URL"):
        Client(url)


def test_a_client_keeps_its_secrets_out_of_its_repr() -> None:
    """The repr shows the service root only, never the password."""
    client = Client("https://host/sap/opu/odata/sap/BC_EXT_APPJOB_MANAGEMENT;v=0002/", auth=("USER", "s3cret"))
    assert repr(client) == "Client('https://host/sap/opu/odata/sap/BC_EXT_APPJOB_MANAGEMENT;v=0002')"
    client.close()


def imported_modules(statement: str) -> set[str]:
    """The modules a fresh interpreter has loaded after *statement*."""
    code = f"{statement}\nimport sys\nprint('\\n'.join(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(result.stdout.split())


def test_importing_appjobs_loads_neither_requests_nor_the_client() -> None:
    """``import appjobs`` stays cheap; ``appjobs.Client`` is imported on first use."""
    loaded = imported_modules("import appjobs")
    assert {"requests", "appjobs.client", "typing"}.isdisjoint(loaded)
    assert "requests" in imported_modules("import appjobs\nappjobs.Client")


def test_the_client_loads_nothing_of_the_service_side() -> None:
    """Only the standard library, requests (with urllib3 and its own dependencies) and defusedxml."""
    loaded = imported_modules("import appjobs.client")
    service_side = {m for m in loaded if m.startswith("appjobs.") and not m.startswith("appjobs.client")}
    assert service_side == set()
    assert {"starlette", "sqlalchemy", "uvicorn", "click", "psutil", "argon2", "alembic"}.isdisjoint(loaded)
