"""OData v2 URI literals: the shapes SAP's guide and clients send, and what must be refused."""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import re
import urllib.parse
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from appjobs import errors
from appjobs.odata import literals
from appjobs.odata.literals import format_literal, infer_literal, parse_literal

UTC = dt.UTC
TEMPLATE_KEYS = {"JobTemplateName": "Edm.String", "JobTemplateVersion": "Edm.String"}
JOB_KEYS = {"JobName": "Edm.String", "JobRunCount": "Edm.String"}
STEP_KEYS = {"JobName": "Edm.String", "JobRunCount": "Edm.String", "StepNumber": "Edm.Int32"}
# JobListGet's parameters (SAP's generated proxy, see sap-service-facts.md 2.4): name -> (Edm type, MaxLength).
JOB_LIST_GET = {
    "JobText": ("Edm.String", 120),
    "CreationTimeFrom": ("Edm.DateTime", None),
    "CreationTimeTo": ("Edm.DateTime", None),
    "TemplateName": ("Edm.String", 40),
    "JobCreator": ("Edm.String", 12),
    "Report": ("Edm.String", 40),
    "Variant": ("Edm.String", 14),
    "JobName": ("Edm.String", 32),
}
EDM_TYPES = sorted(literals.EXAMPLES)
FAST = settings(deadline=None)
FUZZ = settings(max_examples=300, deadline=dt.timedelta(seconds=2))


def _function_import(url: str, parameters: dict[str, tuple[str, int | None]]) -> dict[str, object]:
    """Parse a function-import URL's parameters the way a server would: decode the query, then each literal."""
    query = urllib.parse.urlsplit(url).query
    return {
        name: parse_literal(text, parameters[name][0], max_length=parameters[name][1], name=name)
        for name, text in urllib.parse.parse_qsl(query, keep_blank_values=True)
    }


# --- the guide's URLs ----------------------------------------------------------------


def test_job_list_get_url_from_the_guide() -> None:
    """The guide's JobListGet URL parses: blanks stay single blanks and datetimes become aware UTC datetimes."""
    url = (
        "https://host/sap/opu/odata/sap/BC_EXT_APPJOB_MANAGEMENT;v=0002/JobListGet?JobName=' '"
        "&CreationTimeFrom=datetime'2018-11-20T00:00:00'&CreationTimeTo=datetime'2018-11-22T00:00:00'"
        "&JobCreator=' '&JobText=' '&Report=' '&TemplateName=' '&Variant=' '"
    )
    values = _function_import(url, JOB_LIST_GET)
    assert values["JobName"] == " "
    assert values["Variant"] == " "
    assert values["CreationTimeFrom"] == dt.datetime(2018, 11, 20, tzinfo=UTC)
    assert values["CreationTimeTo"] == dt.datetime(2018, 11, 22, tzinfo=UTC)


def test_job_list_get_url_percent_encoded_as_clients_send_it() -> None:
    """The same URL percent-encoded (%27 quotes, %20 blanks, %3A colons) gives the same values."""
    url = (
        "/JobListGet?JobName=%27%20%27&CreationTimeFrom=datetime%272018-11-20T00%3A00%3A00%27"
        "&CreationTimeTo=datetime%272018-11-22T00%3A00%3A00%27&JobText=%27%20%27"
    )
    values = _function_import(url, JOB_LIST_GET)
    assert values == {
        "JobName": " ",
        "CreationTimeFrom": dt.datetime(2018, 11, 20, tzinfo=UTC),
        "CreationTimeTo": dt.datetime(2018, 11, 22, tzinfo=UTC),
        "JobText": " ",
    }


def test_job_schedule_url_from_the_guides_abap_sample() -> None:
    """The ABAP sample's JobSchedule URL, with %20 in JobText, decodes to the texts the user typed."""
    url = (
        "/sap/opu/odata/sap/BC_EXT_APPJOB_MANAGEMENT;v=2/JobSchedule?JobTemplateName='Z7ILD5Y5ARYPNRMFW7LYMT557IA'"
        "&JobText='Scheduled%20via%20Sample%20Code%20in%20ABAP'&JobUser='CB8980000030'&TestModeInd=false"
        "&JobParameterValues=''"
    )
    parameters = {
        "JobTemplateName": ("Edm.String", 40),
        "JobText": ("Edm.String", 120),
        "JobUser": ("Edm.String", 40),
        "TestModeInd": ("Edm.Boolean", None),
        "JobParameterValues": ("Edm.String", None),
    }
    assert _function_import(url, parameters) == {
        "JobTemplateName": "Z7ILD5Y5ARYPNRMFW7LYMT557IA",
        "JobText": "Scheduled via Sample Code in ABAP",
        "JobUser": "CB8980000030",
        "TestModeInd": False,
        "JobParameterValues": "",
    }


def test_job_status_get_url_from_the_guide() -> None:
    """JobStatusGet's parameters carry the 32-hex JobName and the case-sensitive 8-letter JobRunCount."""
    url = "/JobStatusGet?JobName='38EAA71741401EE6BEA162EB5331DF9C'&JobRunCount='JtUpUsyH'"
    parameters = {"JobName": ("Edm.String", 32), "JobRunCount": ("Edm.String", 8)}
    values = _function_import(url, parameters)
    assert values == {"JobName": "38EAA71741401EE6BEA162EB5331DF9C", "JobRunCount": "JtUpUsyH"}


def test_unquoted_parameter_from_the_guides_screenshot_is_malformed() -> None:
    """An unquoted string parameter (``JobTemplateName=API_DEMO_REPORT``) is SAP's Malformed URI literal syntax."""
    with pytest.raises(errors.MalformedLiteral, match=r"^Malformed URI literal syntax: JobTemplateName: "):
        parse_literal("API_DEMO_REPORT", "Edm.String", max_length=40, name="JobTemplateName")


# --- Edm.String ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("'O''Brien'", "O'Brien"),
        ("''", ""),
        ("' '", " "),
        ("''''", "'"),
        ("'it''s ''quoted'''", "it's 'quoted'"),
        ("'/IBP/CREATE_TIME_PERIODS'", "/IBP/CREATE_TIME_PERIODS"),
        ("'a,b=c)('", "a,b=c)("),
        ("'line\nbreak'", "line\nbreak"),
        ("'Prüfung – 日本語 🎉'", "Prüfung – 日本語 🎉"),
    ],
)
def test_string_literals(text: str, value: str) -> None:
    """A quoted string is its content with doubled quotes undoubled; any Unicode text is kept as is."""
    assert parse_literal(text, "Edm.String") == value


@pytest.mark.parametrize("text", ["abc", "'abc", "abc'", "'a'b'", "'''", "", "'", " 'abc'", "'abc' ", '"abc"'])
def test_malformed_string_literals(text: str) -> None:
    """A string without its quotes, with an undoubled quote inside, or with blanks outside the quotes is malformed."""
    with pytest.raises(errors.MalformedLiteral, match=r"^Malformed URI literal syntax: .* Edm\.String literal"):
        parse_literal(text, "Edm.String")


def test_max_length_is_inclusive() -> None:
    """A string exactly MaxLength long is accepted; one character more is SAP's Malformed URI literal syntax."""
    assert parse_literal("'" + "A" * 32 + "'", "Edm.String", max_length=32) == "A" * 32
    with pytest.raises(errors.MalformedLiteral, match=r"^Malformed URI literal syntax: JobName: .* 33 characters"):
        parse_literal("'" + "A" * 33 + "'", "Edm.String", max_length=32, name="JobName")


def test_max_length_counts_the_doubled_quote_once() -> None:
    """MaxLength applies to the value, so ``'O''B'`` is three characters long, not four."""
    assert parse_literal("'O''B'", "Edm.String", max_length=3) == "O'B"


def test_max_length_counts_utf16_units_like_abap() -> None:
    """Umlauts count once against MaxLength, an emoji (outside the BMP) twice, as in ABAP's UTF-16 strings."""
    assert parse_literal("'äöü'", "Edm.String", max_length=3) == "äöü"
    assert parse_literal("'🎉'", "Edm.String", max_length=2) == "🎉"
    with pytest.raises(errors.MalformedLiteral):
        parse_literal("'🎉'", "Edm.String", max_length=1)


def test_error_message_is_bounded_for_huge_input() -> None:
    """An error about a megabyte of input quotes only its beginning."""
    with pytest.raises(errors.MalformedLiteral) as caught:
        parse_literal("x" * 1_000_000, "Edm.String")
    assert len(str(caught.value)) < 300


# --- other types ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("datetime'2018-11-20T00:00:00'", dt.datetime(2018, 11, 20, tzinfo=UTC)),
        ("datetime'2018-11-20T13:45'", dt.datetime(2018, 11, 20, 13, 45, tzinfo=UTC)),
        ("datetime'2015-09-01T15:42:36.0944660'", dt.datetime(2015, 9, 1, 15, 42, 36, 94466, tzinfo=UTC)),
        ("datetime'2015-09-01T15:42:36.5'", dt.datetime(2015, 9, 1, 15, 42, 36, 500000, tzinfo=UTC)),
        ("datetime'2015-09-01T15:42:36.9999999'", dt.datetime(2015, 9, 1, 15, 42, 36, 999999, tzinfo=UTC)),
        ("DateTime'2018-11-20T00:00:00'", dt.datetime(2018, 11, 20, tzinfo=UTC)),
        ("DATETIME'2018-11-20T00:00'", dt.datetime(2018, 11, 20, tzinfo=UTC)),
        ("datetime'0001-01-01T00:00:00'", dt.datetime(1, 1, 1, tzinfo=UTC)),
        ("datetime'9999-12-31T23:59:59'", dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)),
    ],
)
def test_datetime_literals(text: str, value: dt.datetime) -> None:
    """Edm.DateTime literals, with or without seconds and with up to 7 fraction digits, are aware UTC datetimes."""
    parsed = parse_literal(text, "Edm.DateTime")
    assert parsed == value
    assert isinstance(parsed, dt.datetime)
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    "text",
    [
        "datetime'2018-11-20'",
        "datetime'2018-11-20T00:00:00Z'",
        "datetime'2018-11-20T00:00:00+01:00'",
        "datetime'2018-13-01T00:00:00'",
        "datetime'2018-02-30T00:00:00'",
        "datetime'2018-11-20T24:00:00'",
        "datetime'0000-01-01T00:00:00'",
        "datetime'2018-11-20T00:00:00.12345678'",
        "datetime '2018-11-20T00:00:00'",
        "datetime'2018-11-20 00:00:00'",
        "datetime'2018-11-20t00:00:00'",
        "'2018-11-20T00:00:00'",
        "datetime2018-11-20T00:00:00",
        "datetime'٢٠١٨-11-20T00:00:00'",
    ],
)
def test_malformed_datetime_literals(text: str) -> None:
    """A date alone, an offset, an impossible date, 8 fraction digits or a blank before the quote is malformed."""
    with pytest.raises(errors.MalformedLiteral, match=r"Edm\.DateTime"):
        parse_literal(text, "Edm.DateTime")


def test_datetimeoffset_literals() -> None:
    """Edm.DateTimeOffset literals keep their offset; ``Z`` is UTC."""
    plus = parse_literal("datetimeoffset'2018-11-20T01:30:00+01:30'", "Edm.DateTimeOffset")
    assert plus == dt.datetime(2018, 11, 20, tzinfo=UTC)
    assert isinstance(plus, dt.datetime)
    assert plus.utcoffset() == dt.timedelta(hours=1, minutes=30)
    utc = parse_literal("datetimeoffset'2018-11-20T00:00Z'", "Edm.DateTimeOffset")
    assert utc == dt.datetime(2018, 11, 20, tzinfo=UTC)
    for bad in ("datetimeoffset'2018-11-20T00:00:00'", "datetimeoffset'2018-11-20T00:00:00+24:00'"):
        with pytest.raises(errors.MalformedLiteral):
            parse_literal(bad, "Edm.DateTimeOffset")


@pytest.mark.parametrize(("text", "value"), [("true", True), ("false", False)])
def test_boolean_literals(text: str, value: bool) -> None:
    """Edm.Boolean is exactly ``true`` or ``false``."""
    assert parse_literal(text, "Edm.Boolean") is value


@pytest.mark.parametrize("text", ["True", "FALSE", "1", "0", "'true'", "", "yes"])
def test_malformed_boolean_literals(text: str) -> None:
    """Other spellings of a boolean, quoted or capitalised, are malformed."""
    with pytest.raises(errors.MalformedLiteral, match=r"Edm\.Boolean"):
        parse_literal(text, "Edm.Boolean")


@pytest.mark.parametrize(
    ("text", "edm_type", "value"),
    [
        ("42", "Edm.Int32", 42),
        ("-7", "Edm.Int32", -7),
        ("+7", "Edm.Int32", 7),
        ("0042", "Edm.Int32", 42),
        ("2147483647", "Edm.Int32", 2**31 - 1),
        ("-2147483648", "Edm.Int32", -(2**31)),
        ("42L", "Edm.Int64", 42),
        ("42l", "Edm.Int64", 42),
        ("42", "Edm.Int64", 42),
        ("9223372036854775807L", "Edm.Int64", 2**63 - 1),
        ("32767", "Edm.Int16", 32767),
        ("255", "Edm.Byte", 255),
        ("-128", "Edm.SByte", -128),
    ],
)
def test_integer_literals(text: str, edm_type: str, value: int) -> None:
    """Integers are plain digits with an optional sign; Edm.Int64 may carry an ``L``."""
    assert parse_literal(text, edm_type) == value


@pytest.mark.parametrize(
    ("text", "edm_type"),
    [
        ("2147483648", "Edm.Int32"),
        ("42L", "Edm.Int32"),
        ("'42'", "Edm.Int32"),
        ("4.2", "Edm.Int32"),
        ("", "Edm.Int32"),
        ("٤٢", "Edm.Int32"),
        ("1" * 5000, "Edm.Int64"),
        ("32768", "Edm.Int16"),
        ("-1", "Edm.Byte"),
        ("9223372036854775808L", "Edm.Int64"),
    ],
)
def test_malformed_integer_literals(text: str, edm_type: str) -> None:
    """Out-of-range numbers, quoted numbers, fractions, non-ASCII digits and an ``L`` on an Edm.Int32 are malformed."""
    with pytest.raises(errors.MalformedLiteral, match=re.escape(edm_type)):
        parse_literal(text, edm_type)


def test_decimal_guid_and_time_literals() -> None:
    """Edm.Decimal, Edm.Guid and Edm.Time (a time of day) literals have their Python counterparts."""
    assert parse_literal("1.50M", "Edm.Decimal") == decimal.Decimal("1.50")
    assert parse_literal("-2", "Edm.Decimal") == decimal.Decimal(-2)
    guid = "0050568b-2bd1-1ed8-8bd1-4e8b4f1a0c7d"
    assert parse_literal(f"guid'{guid.upper()}'", "Edm.Guid") == uuid.UUID(guid)
    assert parse_literal("time'PT12H30M'", "Edm.Time") == dt.time(12, 30)
    assert parse_literal("time'PT08H00M15.5S'", "Edm.Time") == dt.time(8, 0, 15, 500000)
    for text, edm_type in [("time'PT'", "Edm.Time"), ("time'PT24H'", "Edm.Time"), ("guid'123'", "Edm.Guid")]:
        with pytest.raises(errors.MalformedLiteral):
            parse_literal(text, edm_type)


def test_unknown_edm_type_is_a_programming_error() -> None:
    """Asking for a type this module does not know is the caller's bug, a ValueError, not bad input."""
    with pytest.raises(ValueError, match=r"Edm\.Double"):
        parse_literal("1.0d", "Edm.Double")


@pytest.mark.parametrize(
    ("text", "value", "edm_type"),
    [
        ("'x'", "x", "Edm.String"),
        ("true", True, "Edm.Boolean"),
        ("42", 42, "Edm.Int32"),
        ("3000000000", 3_000_000_000, "Edm.Int64"),
        ("42L", 42, "Edm.Int64"),
        ("1.5", decimal.Decimal("1.5"), "Edm.Decimal"),
        ("2M", decimal.Decimal(2), "Edm.Decimal"),
        ("datetime'2018-11-20T00:00'", dt.datetime(2018, 11, 20, tzinfo=UTC), "Edm.DateTime"),
        ("time'PT1H'", dt.time(1), "Edm.Time"),
    ],
)
def test_infer_literal_reads_the_type_from_the_syntax(text: str, value: object, edm_type: str) -> None:
    """In ``$filter`` a literal's syntax alone decides its Edm type."""
    assert infer_literal(text) == (value, edm_type)


@pytest.mark.parametrize("text", ["abc", "binary'00'", "1.5d", "", "'open", "X'00'"])
def test_infer_literal_refuses_what_is_no_literal(text: str) -> None:
    """Bare words, unsupported prefixes and double literals are malformed."""
    with pytest.raises(errors.MalformedLiteral):
        infer_literal(text)


# --- formatting ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "edm_type", "text"),
    [
        ("O'Brien", "Edm.String", "'O''Brien'"),
        ("", "Edm.String", "''"),
        (" ", "Edm.String", "' '"),
        ("Prüfung 🎉", "Edm.String", "'Prüfung 🎉'"),
        (dt.datetime(2018, 11, 20, tzinfo=UTC), "Edm.DateTime", "datetime'2018-11-20T00:00:00'"),
        (
            dt.datetime(2015, 9, 1, 15, 42, 36, 94466, tzinfo=UTC),
            "Edm.DateTime",
            "datetime'2015-09-01T15:42:36.0944660'",
        ),
        (
            dt.datetime(2018, 11, 20, 1, tzinfo=dt.timezone(dt.timedelta(hours=1))),
            "Edm.DateTime",
            "datetime'2018-11-20T00:00:00'",
        ),
        (dt.datetime(5, 1, 2, tzinfo=UTC), "Edm.DateTime", "datetime'0005-01-02T00:00:00'"),
        (dt.datetime(2018, 11, 20, tzinfo=UTC), "Edm.DateTimeOffset", "datetimeoffset'2018-11-20T00:00:00Z'"),
        (
            dt.datetime(2018, 11, 20, tzinfo=dt.timezone(-dt.timedelta(hours=5, minutes=30))),
            "Edm.DateTimeOffset",
            "datetimeoffset'2018-11-20T00:00:00-05:30'",
        ),
        (True, "Edm.Boolean", "true"),
        (False, "Edm.Boolean", "false"),
        (42, "Edm.Int32", "42"),
        (-7, "Edm.Int16", "-7"),
        (42, "Edm.Int64", "42L"),
        (decimal.Decimal("1.50"), "Edm.Decimal", "1.50M"),
        (dt.time(12, 30), "Edm.Time", "time'PT12H30M00S'"),
        (uuid.UUID(int=1), "Edm.Guid", "guid'00000000-0000-0000-0000-000000000001'"),
    ],
)
def test_format_literal(value: object, edm_type: str, text: str) -> None:
    """Values are written exactly as SAP expects them, datetimes converted to UTC."""
    assert format_literal(value, edm_type) == text


@pytest.mark.parametrize(
    ("value", "edm_type"),
    [
        (dt.datetime(2018, 11, 20), "Edm.DateTime"),
        (dt.datetime(2018, 11, 20), "Edm.DateTimeOffset"),
        (dt.datetime(1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=1))), "Edm.DateTime"),
        (True, "Edm.Int32"),
        (2**31, "Edm.Int32"),
        ("42", "Edm.Int32"),
        (42, "Edm.String"),
        (None, "Edm.String"),
        (1, "Edm.Boolean"),
        (decimal.Decimal("NaN"), "Edm.Decimal"),
        ("0050568b-2bd1-1ed8-8bd1-4e8b4f1a0c7d", "Edm.Guid"),
    ],
)
def test_format_literal_refuses_values_that_do_not_fit(value: object, edm_type: str) -> None:
    """A naive datetime, a bool as a number, an out-of-range int or a value of the wrong type is InvalidInput."""
    with pytest.raises(errors.InvalidInput, match=re.escape(edm_type)):
        format_literal(value, edm_type)


# --- properties ----------------------------------------------------------------------

aware_datetimes = st.datetimes(timezones=st.just(UTC))
text_values = st.text().filter(lambda text: "\x00" not in text)


@FAST
@given(text_values)
def test_string_round_trip(value: str) -> None:
    """Any text without a NUL, written as a literal and read back, is the same text."""
    assert parse_literal(format_literal(value, "Edm.String"), "Edm.String") == value


@FAST
@given(st.text(), st.text())
def test_a_nul_anywhere_in_a_string_is_malformed(before: str, after: str) -> None:
    """No value of the service may hold a NUL (PostgreSQL cannot store one): its literal is malformed, with why."""
    literal = format_literal(before + "\x00" + after, "Edm.String")
    with pytest.raises(errors.MalformedLiteral, match=r"^Malformed URI literal syntax: .*contains a NUL character"):
        parse_literal(literal, "Edm.String", name="JobText")
    with pytest.raises(errors.MalformedLiteral, match="contains a NUL character"):
        infer_literal(literal)


@FAST
@given(aware_datetimes)
def test_datetime_round_trip(value: dt.datetime) -> None:
    """Any UTC datetime, to the microsecond, survives writing and reading an Edm.DateTime literal."""
    assert parse_literal(format_literal(value, "Edm.DateTime"), "Edm.DateTime") == value


@FAST
@given(st.datetimes(min_value=dt.datetime(2, 1, 1), max_value=dt.datetime(9998, 12, 31), timezones=st.timezones()))
def test_datetime_round_trip_from_any_timezone(value: dt.datetime) -> None:
    """A datetime in any timezone is written as the same instant in UTC."""
    # Compared in UTC: Python never calls a time in a DST gap or fold equal to one in another zone.
    assert parse_literal(format_literal(value, "Edm.DateTime"), "Edm.DateTime") == value.astimezone(UTC)


@FAST
@given(st.booleans())
def test_boolean_round_trip(value: bool) -> None:
    """Both booleans survive writing and reading."""
    assert parse_literal(format_literal(value, "Edm.Boolean"), "Edm.Boolean") is value


@FAST
@given(st.sampled_from(sorted(literals.INT_RANGES)), st.data())
def test_integer_round_trip(edm_type: str, data: st.DataObject) -> None:
    """Every integer in a type's range survives writing and reading."""
    low, high = literals.INT_RANGES[edm_type]
    value = data.draw(st.integers(low, high))
    assert parse_literal(format_literal(value, edm_type), edm_type) == value


@FUZZ
@given(st.text(), st.sampled_from(EDM_TYPES), st.one_of(st.none(), st.integers(0, 50)))
def test_parse_literal_never_fails_unexpectedly(text: str, edm_type: str, max_length: int | None) -> None:
    """Any text either parses or raises an appjobs error; no other exception escapes."""
    with contextlib.suppress(errors.AppjobsError):
        parse_literal(text, edm_type, max_length=max_length)


literalish = st.text(alphabet="'0123456789-+:.TZLPHMSdatimeofsguxX ", max_size=40)


@FUZZ
@given(st.one_of(literalish, st.text()))
def test_infer_literal_never_fails_unexpectedly(text: str) -> None:
    """Any text, including near-literals, either infers to a value or raises an appjobs error."""
    with contextlib.suppress(errors.AppjobsError):
        infer_literal(text)


# --- edges: each one a line that a mistake in the parser or formatter would cross ----------------

# The ranges as OData v2 defines them (spelled out: the module's own table is what is tested).
EDM_INT_EDGES = {
    "Edm.Byte": (0, 255),
    "Edm.SByte": (-128, 127),
    "Edm.Int16": (-32768, 32767),
    "Edm.Int32": (-2147483648, 2147483647),
    "Edm.Int64": (-9223372036854775808, 9223372036854775807),
}


@pytest.mark.parametrize("edm_type", sorted(EDM_INT_EDGES))
def test_integer_ranges_end_exactly_where_odata_says(edm_type: str) -> None:
    """Both ends of each integer type are accepted, read and written; one past either end is refused."""
    low, high = EDM_INT_EDGES[edm_type]
    suffix = "L" if edm_type == "Edm.Int64" else ""
    for value in (low, high):
        assert parse_literal(f"{value}{suffix}", edm_type) == value
        assert format_literal(value, edm_type) == f"{value}{suffix}"
    for value in (low - 1, high + 1):
        with pytest.raises(errors.MalformedLiteral, match=re.escape(edm_type)):
            parse_literal(f"{value}{suffix}", edm_type)
        with pytest.raises(errors.InvalidInput, match=re.escape(edm_type)):
            format_literal(value, edm_type)


def test_error_message_quotes_sixty_characters_whole_and_cuts_longer_ones() -> None:
    """Input of up to 60 characters is quoted whole in the message; longer input is cut there, with '...'."""
    for length, cut in ((60, False), (61, True)):
        with pytest.raises(errors.MalformedLiteral) as caught:
            parse_literal("x" * length, "Edm.String")
        assert ("..." in str(caught.value)) is cut
        assert repr("x" * 60) in str(caught.value)


@pytest.mark.parametrize(
    ("offset", "delta"),
    [("-05:30", dt.timedelta(hours=-5, minutes=-30)), ("+23:59", dt.timedelta(hours=23, minutes=59))],
)
def test_datetimeoffset_offsets_keep_their_sign_up_to_a_day(offset: str, delta: dt.timedelta) -> None:
    """A negative offset is behind UTC, and offsets up to 23:59 either way are accepted."""
    value = parse_literal(f"datetimeoffset'2018-11-20T00:00:00{offset}'", "Edm.DateTimeOffset")
    assert isinstance(value, dt.datetime)
    assert value.utcoffset() == delta
    assert value == dt.datetime(2018, 11, 20, tzinfo=UTC) - delta


@pytest.mark.parametrize("hours", [-23, -12, -1, 5, 14, 23])
def test_datetimeoffset_formats_whole_hour_offsets(hours: int) -> None:
    """Offsets are written as signed hours and minutes, and read back as the same offset."""
    value = dt.datetime(2018, 11, 20, 1, 2, 3, tzinfo=dt.timezone(dt.timedelta(hours=hours, minutes=0)))
    text = format_literal(value, "Edm.DateTimeOffset")
    assert text.endswith(f"{'-' if hours < 0 else '+'}{abs(hours):02d}:00'")
    assert parse_literal(text, "Edm.DateTimeOffset").utcoffset() == value.utcoffset()


def test_time_literals_without_hours_start_at_midnight() -> None:
    """Missing parts of an Edm.Time are zero: ``PT30M`` is half past midnight."""
    assert parse_literal("time'PT30M'", "Edm.Time") == dt.time(0, 30)
    assert parse_literal("time'PT12H'", "Edm.Time") == dt.time(12, 0)
    assert parse_literal("time'PT5S'", "Edm.Time") == dt.time(0, 0, 5)


@pytest.mark.parametrize("value", [True, False, "1.5", 1.5, None])
def test_decimal_literals_are_only_written_for_numbers(value: object) -> None:
    """A bool, a string or a float is no Edm.Decimal: writing one is InvalidInput, not a guess."""
    with pytest.raises(errors.InvalidInput, match=r"Edm\.Decimal"):
        format_literal(value, "Edm.Decimal")


@pytest.mark.parametrize(
    ("text", "edm_type"),
    [
        ("2147483647", "Edm.Int32"),
        ("-2147483648", "Edm.Int32"),
        ("2147483648", "Edm.Int64"),
        ("-2147483649", "Edm.Int64"),
    ],
)
def test_infer_literal_takes_int32_up_to_its_very_ends(text: str, edm_type: str) -> None:
    """A plain number is an Edm.Int32 up to and including both ends of its range, an Edm.Int64 past them."""
    assert infer_literal(text) == (int(text), edm_type)


@pytest.mark.parametrize(("hours", "minutes"), [(0, 59), (5, 45), (-3, -30), (-9, -1)])
def test_datetimeoffset_formats_offsets_to_the_minute(hours: int, minutes: int) -> None:
    """Offsets with any number of minutes (Nepal is +05:45) are written exactly, and read back the same."""
    offset = dt.timedelta(hours=hours, minutes=minutes)
    value = dt.datetime(2018, 11, 20, 12, tzinfo=dt.timezone(offset))
    text = format_literal(value, "Edm.DateTimeOffset")
    sign, whole = ("-", -offset) if offset < dt.timedelta(0) else ("+", offset)
    assert (
        text == f"datetimeoffset'2018-11-20T12:00:00{sign}{whole.seconds // 3600:02d}:{whole.seconds // 60 % 60:02d}'"
    )
    assert parse_literal(text, "Edm.DateTimeOffset") == value


@pytest.mark.parametrize("value", [dt.time(12, 30, tzinfo=UTC), "12:30", None])
def test_time_literals_are_only_written_for_naive_times(value: object) -> None:
    """Edm.Time is a time of day without a zone: an aware time or anything else is InvalidInput."""
    with pytest.raises(errors.InvalidInput, match=r"Edm\.Time"):
        format_literal(value, "Edm.Time")


def test_parse_literal_options_are_keyword_only() -> None:
    """max_length and name are keyword-only, so a positional third argument is not silently taken as either."""
    with pytest.raises(TypeError):
        parse_literal("'x'", "Edm.String", 5)  # type: ignore[misc]
