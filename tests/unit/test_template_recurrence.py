"""A template's default recurrence: the TOML key, its mistakes, and SAP's JobPeriodic* fields for it."""

from __future__ import annotations

import pytest

from appjobs import errors, models
from appjobs.engine import templates
from appjobs.odata import entities

TEMPLATE = '[[template]]\nname = "/T/REC"\ntext = "Recurring"\n{line}\n[[template.step]]\ncommand = "true"\n'


def parse(line: str) -> models.Template:
    (template,) = templates.parse(TEMPLATE.format(line=line), source="jobs.toml", by="TESTER", now=models.utcnow())
    return template


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('recurrence = { every = "1d", at = "02:00", timezone = "Europe/Berlin" }', ("1d", "02:00", "Europe/Berlin")),
        ('recurrence = { every = "15min" }', ("15m", "", "UTC")),  # stored canonical: it fits its column
        ('recurrence = { every = "2 Hours", at = 23:59:00 }', ("2h", "23:59", "UTC")),  # TOML's own local time
        ('recurrence = { every = "99mo", timezone = "Australia/Lord_Howe" }', ("99mo", "", "Australia/Lord_Howe")),
    ],
)
def test_a_recurrence_is_read_and_made_canonical(line: str, expected: tuple[str, str, str]) -> None:
    recurrence = parse(line).recurrence
    assert recurrence is not None
    assert (recurrence.every, recurrence.at, recurrence.timezone) == expected


def test_without_the_key_a_template_is_not_periodic() -> None:
    assert parse("").recurrence is None


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ('recurrence = "1d"', ["template[1]: field 'recurrence': must be a table"]),
        ('recurrence = { at = "02:00" }', ["field 'recurrence.every' is needed", "15m"]),
        ('recurrence = { every = "1x" }', ["field 'recurrence.every'", "'1x'", "1mo"]),
        ('recurrence = { every = "0d" }', ["field 'recurrence.every'", "1 to 999"]),
        ('recurrence = { every = "100m" }', ["field 'recurrence.every'", "1 to 99"]),
        ('recurrence = { every = "1d", at = "2:00" }', ["field 'recurrence.at'", "'2:00'", "HH:MM"]),
        ('recurrence = { every = "1d", at = "24:00" }', ["field 'recurrence.at'", "'24:00'"]),
        ('recurrence = { every = "1d", at = 02:00:30 }', ["field 'recurrence.at'", "HH:MM"]),
        ('recurrence = { every = "1d", timezone = "Berlin" }', ["field 'recurrence.timezone'", "'Berlin'", "IANA"]),
        ('recurrence = { every = "1d", timezone = 1 }', ["field 'recurrence.timezone'", "IANA"]),
        ('recurrence = { every = "1d", when = "now" }', ["field 'recurrence': unknown field 'when'", "every"]),
    ],
)
def test_a_bad_recurrence_names_the_template_and_the_key(line: str, words: list[str]) -> None:
    with pytest.raises(errors.TemplateFileError) as raised:
        parse(line)
    assert str(raised.value).startswith("jobs.toml: template[1]: field 'recurrence")
    for word in words:
        assert word in str(raised.value)


@pytest.mark.parametrize(
    ("every", "fields"),
    [
        ("15m", ("MI", "015")),
        ("2h", ("HO", "002")),
        ("1d", ("DA", "001")),
        ("999d", ("DA", "999")),
        ("1w", ("WE", "001")),
        ("12mo", ("MO", "012")),
    ],
)
def test_job_template_set_shows_sap_granularity_and_value(every: str, fields: tuple[str, str]) -> None:
    template = parse(f'recurrence = {{ every = "{every}" }}')
    entity = entities.template_entity(template)
    assert (entity["JobPeriodicGranularity"], entity["JobPeriodicValue"]) == fields


def test_job_template_set_without_a_recurrence_shows_what_sap_shows() -> None:
    entity = entities.template_entity(parse(""))
    assert (entity["JobPeriodicGranularity"], entity["JobPeriodicValue"]) == ("", "000")
