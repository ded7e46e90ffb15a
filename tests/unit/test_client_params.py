"""JobParameterValues as client records, and the ``-p``/``-r`` flags of ``appjobs run`` and ``appjobs check``."""

from __future__ import annotations

import json

import pytest

from appjobs import errors
from appjobs.cli import paramflags
from appjobs.client import ParameterRow, ParameterValue, ProtocolError, parameter_values
from appjobs.client._params import parse_parameter_values, struct_values


def test_a_plain_mapping_is_sent_as_before() -> None:
    assert json.loads(parameter_values({"A": "1"})) == {
        "VALUES": [{"NAME": "A", "T_VALUE": [{"SIGN": "I", "OPTION": "EQ", "LOW": "1", "HIGH": ""}]}]
    }


def test_records_go_out_and_come_back_the_same() -> None:
    records = (
        ParameterValue.single("A", "x", step=2),
        ParameterValue("B", (ParameterRow("I", "BT", "1", "9"), ParameterRow("E", "EQ", "5", ""))),
        ParameterValue("C", ()),
    )
    text = parameter_values(records)
    assert json.loads(text)["VALUES"][0]["STEP_NR"] == 2
    assert "STEP_NR" not in json.loads(text)["VALUES"][1]
    assert parse_parameter_values(text) == records
    with pytest.raises(ProtocolError):
        parse_parameter_values('{"VALUES": 3}')


def test_struct_rows_group_by_step_and_name() -> None:
    rows = [
        {"StepNr": 1, "JobParameterName": "B", "Sign": "I", "Option": "BT", "Low": "1", "High": "9"},
        {"StepNr": 1, "JobParameterName": "B", "Sign": "E", "Option": "EQ", "Low": "5", "High": ""},
        {"StepNr": 2, "JobParameterName": "C", "Sign": "", "Option": "", "Low": "", "High": ""},
    ]
    assert struct_values(rows) == (
        ParameterValue("B", (ParameterRow("I", "BT", "1", "9"), ParameterRow("E", "EQ", "5", "")), 1),
        ParameterValue("C", (), 2),
    )


def test_plain_flags_stay_a_mapping_and_steps_or_ranges_become_records() -> None:
    assert paramflags.parse(["A=1", "B=x=y"]) == {"A": "1", "B": "x=y"}
    assert paramflags.parse(["A@2=1"], [("B", "I", "BT", "1", "9"), ("B", "E", "EQ", "5", "")]) == [
        ParameterValue.single("A", "1", 2),
        ParameterValue("B", (ParameterRow("I", "BT", "1", "9"), ParameterRow("E", "EQ", "5", ""))),
    ]


@pytest.mark.parametrize(
    ("pairs", "ranges", "message"),
    [
        (["A"], [], "is not NAME=VALUE"),
        (["A=1", "A=2"], [], "given twice"),
        (["A@x=1"], [], "the step after @ must be a step number"),
        (["A@0=1"], [], "the step after @ must be a step number"),
        (["A=1"], [("A", "I", "EQ", "1", "")], "with -p and with -r"),
    ],
)
def test_bad_flags_are_usage_errors(pairs: list[str], ranges: list, message: str) -> None:
    with pytest.raises(errors.InvalidInput, match=message):
        paramflags.parse(pairs, ranges)
