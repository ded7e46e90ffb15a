"""JobSchedule's JobParameterValues: SAP's format read, and what nothing downstream can hold refused with a reason."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from appjobs import errors
from appjobs.odata.jobparams import MAX_DEPTH, parse_parameter_values


def document(*entries: tuple[object, object]) -> str:
    return json.dumps(
        {
            "VALUES": [
                {"STEP_NR": 1, "NAME": n, "T_VALUE": [{"SIGN": "I", "OPTION": "EQ", "LOW": v}]} for n, v in entries
            ]
        }
    )


def test_sap_format_gives_values_by_name() -> None:
    raw = document(("MESSAGE", "hi"), ("REPEAT", "2"))
    assert parse_parameter_values(raw) == {"MESSAGE": "hi", "REPEAT": "2"}


@pytest.mark.parametrize("raw", ["", "''"])
def test_nothing_means_no_values(raw: str) -> None:
    assert parse_parameter_values(raw) == {}


def test_an_entry_without_a_value_is_empty_and_numbers_become_text() -> None:
    raw = json.dumps({"VALUES": [{"NAME": "A"}, {"NAME": "B", "T_VALUE": []}, {"NAME": "C", "T_VALUE": [{"LOW": 7}]}]})
    assert parse_parameter_values(raw) == {"A": "", "B": "", "C": "7"}


def test_a_surrogate_pair_is_one_character() -> None:
    assert parse_parameter_values(document(("M", "\U0001f600"))) == {"M": "\U0001f600"}


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("{broken", "JSONDecodeError"),
        ('{"NO_VALUES": []}', "KeyError"),
        ('{"VALUES": [{"LOW": "x"}]}', "KeyError"),
        ('{"VALUES": 3}', "TypeError"),
        ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), f"nested deeper than {MAX_DEPTH} levels"),
        ("[" * 100_000, f"nested deeper than {MAX_DEPTH} levels"),
        (document(("M", "\ud800")), "contains a lone surrogate"),
        (document(("M", "a\udc00")), "contains a lone surrogate"),
        (document(("M\ud83d", "x")), "parameter name contains a lone surrogate"),
        (document(("M", "a\x00b")), "value of 'M' contains a NUL"),
        (document(("M\x00", "x")), "parameter name contains a NUL"),
    ],
)
def test_what_cannot_be_stored_is_refused_with_a_reason(raw: str, reason: str) -> None:
    with pytest.raises(errors.InvalidInput, match=r"^JobParameterValues is not valid: ") as refused:
        parse_parameter_values(raw)
    assert reason in str(refused.value)


def test_depth_counts_brackets_outside_strings_only() -> None:
    deep_text = "[" * 1000 + "{" * 1000
    assert parse_parameter_values(document(("M", deep_text))) == {"M": deep_text}
    nested = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    with pytest.raises(errors.InvalidInput, match=r"KeyError|TypeError"):  # deep enough to parse, not SAP's shape
        parse_parameter_values(nested)


@settings(deadline=None)
@given(
    st.recursive(
        st.none() | st.text() | st.integers(), lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner)
    )
)
def test_any_json_is_values_or_invalid_input(value: object) -> None:
    try:
        values = parse_parameter_values(json.dumps(value))
    except errors.InvalidInput:
        return
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in values.items())
