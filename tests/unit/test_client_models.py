"""The client's values: status letters, job keys, OData literals, and the retry policy."""

from __future__ import annotations

import datetime as dt
import logging
from urllib.parse import parse_qsl, unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from appjobs import models
from appjobs.client import JobKey, JobStatus, Retry, Timeouts
from appjobs.client import _literals as client_literals
from appjobs.odata import literals as server_literals

UTC = dt.UTC


# --- status letters --------------------------------------------------------------------------


def test_every_letter_seen_on_real_tenants_is_a_status() -> None:
    """S, Y, R, F, A, C, c, P, U, W, D, K, k and X; lower-case letters are statuses of their own."""
    assert sorted(s.value for s in JobStatus) == sorted("SYRFACcPUWDKkX")
    assert JobStatus("c") is JobStatus.CANCELING
    assert JobStatus("C") is JobStatus.CANCELED
    assert JobStatus("k") is JobStatus.SKIP
    assert JobStatus("K") is JobStatus.SKIPPED


def test_final_statuses() -> None:
    """Finished, failed, cancelled, user error, warning, deleted and skipped are final; the rest may change."""
    assert {s.value for s in JobStatus if s.is_final} == set("FACUWDK")
    assert not JobStatus.CANCELING.is_final  # cancellation under way
    assert not JobStatus.UNKNOWN.is_final  # keep asking


def test_the_client_agrees_with_the_engine_on_letters_finality_and_texts() -> None:
    """The client's enum mirrors appjobs.models.JobStatus, which it may not import."""
    for engine_status in models.JobStatus:
        status = JobStatus(engine_status.value)
        assert (status.name, status.is_final, status.text) == (
            engine_status.name,
            engine_status.is_final,
            engine_status.text,
        )


def test_empty_and_unknown_letters(caplog: pytest.LogCaptureFixture) -> None:
    """Empty (right after JobSchedule) is no status; a letter no tenant has sent yet is X, with a warning."""
    assert JobStatus.from_letter("") is None
    assert JobStatus.from_letter(" ") is None
    assert JobStatus.from_letter(None) is None
    assert JobStatus.from_letter("R") is JobStatus.RUNNING
    with caplog.at_level(logging.WARNING):
        assert JobStatus.from_letter("Z") is JobStatus.UNKNOWN
    assert "'Z'" in caplog.text


def test_a_job_key_reads_as_name_and_run_count() -> None:
    """A key prints as NAME/RUNCOUNT, and its run count is case-sensitive."""
    key = JobKey("38EAA71741401EE6BEA162EB5331DF9C", "JtUpUsyH")
    assert str(key) == "38EAA71741401EE6BEA162EB5331DF9C/JtUpUsyH"
    assert key != JobKey("38EAA71741401EE6BEA162EB5331DF9C", "jtUpUsyH")  # run counts are case-sensitive


# --- literals ---------------------------------------------------------------------------------


def test_string_boolean_and_datetime_literals() -> None:
    """The literals of the types the function imports take."""
    assert client_literals.string("O'Brien") == "'O''Brien'"
    assert client_literals.string("") == "''"
    assert client_literals.boolean(False) == "false"
    assert client_literals.boolean(True) == "true"
    assert (
        client_literals.datetime_(dt.datetime(2018, 11, 20, 1, 30, 15, 999, tzinfo=UTC))
        == "datetime'2018-11-20T01:30:15'"
    )


def test_datetime_literals_are_utc() -> None:
    """An aware time is converted to UTC (Edm.DateTime has no offset); a naive one is taken as UTC."""
    cest = dt.timezone(dt.timedelta(hours=2))
    assert client_literals.datetime_(dt.datetime(2024, 6, 1, 2, 0, tzinfo=cest)) == "datetime'2024-06-01T00:00:00'"
    assert client_literals.datetime_(dt.datetime(2024, 6, 1, 2, 0)) == "datetime'2024-06-01T02:00:00'"
    assert client_literals.datetime_(dt.datetime(999, 1, 1, tzinfo=UTC)) == "datetime'0999-01-01T00:00:00'"


def test_query_strings_percent_encode_utf8_and_never_use_plus() -> None:
    """Space is %20, plus is %2B, & and = and # and % are encoded; quotes and colons stay readable."""
    query = client_literals.query([("JobText", client_literals.string("a + b & c = 100% #1 ü"))])
    assert query == "JobText='a%20%2B%20b%20%26%20c%20%3D%20100%25%20%231%20%C3%BC'"
    when = client_literals.query([("From", client_literals.datetime_(dt.datetime(2024, 1, 1, tzinfo=UTC)))])
    assert when == "From=datetime'2024-01-01T00:00:00'"


@given(st.text(max_size=60).filter(lambda text: "\x00" not in text))
def test_any_text_survives_the_trip_through_the_servers_parsers(text: str) -> None:
    """What the client writes, the service reads back: query parsing, then the literal parser (NUL aside)."""
    query = client_literals.query([("JobText", client_literals.string(text))])
    ((name, literal),) = parse_qsl(query, keep_blank_values=True, encoding="utf-8", errors="strict")
    assert name == "JobText"
    assert server_literals.parse_literal(literal, "Edm.String") == text
    assert unquote(query.partition("=")[2]) == literal


@given(st.datetimes(timezones=st.just(UTC)))
def test_any_time_survives_the_trip_to_whole_seconds(when: dt.datetime) -> None:
    """Datetime literals parse back, on the service side, to the same time without its fraction."""
    parsed = server_literals.parse_literal(client_literals.datetime_(when), "Edm.DateTime")
    assert parsed == when.replace(microsecond=0)


# --- settings ---------------------------------------------------------------------------------


def test_pauses_are_jittered_within_an_exponential_ceiling() -> None:
    """Try n waits between 0 and min(max_backoff, backoff * 2**(n-1)); Retry-After wins, within max_backoff."""
    retry = Retry(attempts=5, backoff=1.0, max_backoff=5.0)
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 5.0), (9, 5.0)]:
        pauses = [retry.pause(attempt) for _ in range(200)]
        assert all(0.0 <= p <= ceiling for p in pauses)
        assert len(set(pauses)) > 1
    assert retry.pause(1, retry_after=3.0) == 3.0
    assert retry.pause(1, retry_after=120.0) == 5.0


def test_settings_refuse_nonsense() -> None:
    """No tries, negative pauses and zero timeouts are refused when the settings are made."""
    with pytest.raises(ValueError, match="attempts"):
        Retry(attempts=0)
    with pytest.raises(ValueError, match="backoff"):
        Retry(backoff=-1)
    with pytest.raises(ValueError, match="positive"):
        Timeouts(read=0)
