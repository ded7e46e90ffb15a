"""OData v2 key predicates: the guide's entity ids, SAP's shorthand for one key, and what must be refused."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import urllib.parse

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from appjobs import errors
from appjobs.odata.keys import format_key_predicate, parse_key_predicate

TEMPLATE_KEYS = {"JobTemplateName": "Edm.String", "JobTemplateVersion": "Edm.String"}
JOB_KEYS = {"JobName": "Edm.String", "JobRunCount": "Edm.String"}
STEP_KEYS = {"JobName": "Edm.String", "JobRunCount": "Edm.String", "StepNumber": "Edm.Int32"}
FAST = settings(deadline=None)
FUZZ = settings(max_examples=300, deadline=dt.timedelta(seconds=2))


def test_key_predicate_from_the_guides_atom_id() -> None:
    """The guide's Atom id, split on '/' and then decoded, gives back the template's keys."""
    atom_id = (
        "https://host/sap/opu/odata/sap/BC_EXT_APPJOB_MANAGEMENT;v=2/"
        "JobTemplateSet(JobTemplateName='%2FIBP%2FCREATE_TIME_PERIODS',JobTemplateVersion='0')"
    )
    segment = urllib.parse.unquote(atom_id.rsplit("/", 1)[1])
    inner = segment[segment.index("(") + 1 : -1]
    assert parse_key_predicate(inner, TEMPLATE_KEYS) == {
        "JobTemplateName": "/IBP/CREATE_TIME_PERIODS",
        "JobTemplateVersion": "0",
    }


def test_key_predicate_keeps_key_order_whatever_the_order_given() -> None:
    """Keys may come in any order; the result follows the entity type's key order."""
    values = parse_key_predicate("JobRunCount='JtUpUsyH',JobName='38EAA71741401EE6BEA162EB5331DF9C'", JOB_KEYS)
    assert list(values) == ["JobName", "JobRunCount"]


def test_key_predicate_with_an_integer_key_and_quotes_and_commas_inside() -> None:
    """Commas, parentheses and doubled quotes inside a quoted value do not split it; integer keys are unquoted."""
    values = parse_key_predicate("JobName='a,b)',JobRunCount='O''B',StepNumber=2", STEP_KEYS)
    assert values == {"JobName": "a,b)", "JobRunCount": "O'B", "StepNumber": 2}


def test_single_key_may_omit_its_name() -> None:
    """With one key, ``('C')`` and ``(JobStatus='C')`` both name the same entity."""
    keys = {"JobStatus": "Edm.String"}
    assert parse_key_predicate("'C'", keys) == {"JobStatus": "C"}
    assert parse_key_predicate("JobStatus='C'", keys) == {"JobStatus": "C"}


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        ("'/IBP/X'", errors.MalformedLiteral, "expected Name=value at position 1"),
        ("JobTemplateName='/IBP/X'", errors.InvalidInput, "'JobTemplateVersion' is missing"),
        ("JobTemplateName='/IBP/X',Version='0'", errors.InvalidInput, "'Version' is not a key property"),
        ("JobTemplateName='A',JobTemplateName='B'", errors.InvalidInput, "'JobTemplateName' is given twice"),
        ("JobTemplateName='A' JobTemplateVersion='0'", errors.MalformedLiteral, "expected ',' at position 20"),
        ("JobTemplateName=A,JobTemplateVersion='0'", errors.MalformedLiteral, "JobTemplateName: 'A'"),
        ("JobTemplateName='A',JobTemplateVersion='0',", errors.MalformedLiteral, "expected Name=value at position 44"),
        ("JobTemplateName='A',JobTemplateVersion='00'", errors.MalformedLiteral, "more than MaxLength 1"),
        ("", errors.MalformedLiteral, "expected Name=value at position 1"),
    ],
)
def test_bad_key_predicates(text: str, error: type[Exception], message: str) -> None:
    """Bad syntax is a MalformedLiteral and wrong keys an InvalidInput, each message naming the problem."""
    with pytest.raises(error, match=re.escape(message)):
        parse_key_predicate(text, TEMPLATE_KEYS, max_lengths={"JobTemplateName": 40, "JobTemplateVersion": 1})


def test_format_key_predicate_matches_the_guides_atom_id() -> None:
    """The formatted predicate is byte for byte the one in the guide's Atom id, '/' percent-encoded."""
    values = {"JobTemplateName": "/IBP/CREATE_TIME_PERIODS", "JobTemplateVersion": "0"}
    predicate = format_key_predicate(values, TEMPLATE_KEYS)
    assert f"JobTemplateSet({predicate})" == (
        "JobTemplateSet(JobTemplateName='%2FIBP%2FCREATE_TIME_PERIODS',JobTemplateVersion='0')"
    )


def test_format_key_predicate_variants() -> None:
    """A single key is written alone, text is encoded as UTF-8 and quotes doubled, and encoding can be switched off."""
    assert format_key_predicate({"JobStatus": "C"}, {"JobStatus": "Edm.String"}) == "'C'"
    values = {"JobName": "O'B ü", "JobRunCount": "x", "StepNumber": 2}
    assert format_key_predicate(values, STEP_KEYS) == "JobName='O''B%20%C3%BC',JobRunCount='x',StepNumber=2"
    plain = format_key_predicate(values, STEP_KEYS, percent_encode=False)
    assert plain == "JobName='O''B ü',JobRunCount='x',StepNumber=2"
    with pytest.raises(errors.InvalidInput, match="'JobRunCount' has no value"):
        format_key_predicate({"JobName": "A"}, JOB_KEYS)


@FAST
@given(
    st.text().filter(lambda t: "\x00" not in t),
    st.text().filter(lambda t: "\x00" not in t),
    st.integers(-(2**31), 2**31 - 1),
)
def test_key_predicate_round_trip(name: str, run_count: str, step: int) -> None:
    """Any key values without a NUL, formatted (percent-encoded) then decoded and parsed, come back unchanged."""
    values = {"JobName": name, "JobRunCount": run_count, "StepNumber": step}
    try:
        predicate = format_key_predicate(values, STEP_KEYS)
    except errors.InvalidInput:  # lone surrogates cannot travel in a URL
        return
    assert parse_key_predicate(urllib.parse.unquote(predicate), STEP_KEYS) == values


@FUZZ
@given(st.one_of(st.text(alphabet="JobNameRunCountStepr='',0123()L ", max_size=60), st.text()))
def test_parse_key_predicate_never_fails_unexpectedly(text: str) -> None:
    """Any text either parses as a key predicate or raises an appjobs error."""
    with contextlib.suppress(errors.AppjobsError):
        parse_key_predicate(text, STEP_KEYS, max_lengths={"JobName": 32})
