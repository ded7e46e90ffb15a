"""The pages' mapping of errors to statuses and the logon's redirect target: pure functions of appjobs.web.security."""

from __future__ import annotations

import pytest

from appjobs import errors
from appjobs.web.security import error_status, safe_next


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (errors.InvalidInput("bad"), 400),
        (errors.TemplateFileError("bad file"), 400),
        (errors.JobNotFound("gone"), 404),
        (errors.NotAuthorized("not yours"), 403),
        (errors.RestartRefused("no"), 409),
        (errors.StorageFull("disk full"), 507),
        (errors.StorageError("broken"), 500),  # not the reader's doing: no 4xx
        (errors.ConfigurationError("odd"), 500),
    ],
)
def test_each_error_has_its_page_status(error: errors.AppjobsError, status: int) -> None:
    assert error_status(error) == status


@pytest.mark.parametrize("target", ["/appjobs/ui/templates", "/appjobs/ui/jobs/ABC/def?notice=x", "/appjobs/ui/"])
def test_a_page_of_ours_is_where_the_logon_goes_next(target: str) -> None:
    assert safe_next(target) == target


@pytest.mark.parametrize("target", [None, "", "/appjobs/uiother", "/odata", "/appjobs/ui//evil", "/appjobs/ui/\\evil"])
def test_anything_else_goes_to_the_job_list(target: str | None) -> None:
    assert safe_next(target) == "/appjobs/ui/jobs"
