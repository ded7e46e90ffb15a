"""Parameter values against their declarations: STEP_NR, select-options, types, and anything a caller sends."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from appjobs import errors, params
from appjobs.odata import jobparams
from appjobs.params import Declaration, Entry, ParamType, Row

STEPS = {
    1: (
        Declaration("DAY", ParamType.DATE, mandatory=True),
        Declaration("PLANTS", select_option=True, allowed=("1", "2"), default=(Row(low="1"),)),
        Declaration("MODE", default=(Row(low="delta"),)),
    ),
    2: (Declaration("MODE", default=(Row(low="delta"),)), Declaration("N", ParamType.INTEGER)),
}


def test_a_step_number_wins_over_every_step() -> None:
    entries = [
        Entry("DAY", (Row(low="2026-01-02"),)),
        Entry("MODE", (Row(low="all"),)),
        Entry("MODE", (Row(low="two"),), 2),
    ]
    values, problems = params.resolve(STEPS, entries)
    assert problems == []
    assert values[1, "DAY"].first_low == "20260102"
    assert values[1, "MODE"].first_low == "all"
    assert values[2, "MODE"].first_low == "two"
    assert values[1, "PLANTS"].rows == (Row("I", "EQ", "1", ""),)  # the default


def test_each_problem_names_its_parameter_and_step() -> None:
    entries = [
        Entry("N", (Row(low="x"),), 2),
        Entry("PLANTS", (Row(low="3"), Row("E", "BT", "1", ""))),
        Entry("MODE", (Row(low="a"), Row(low="b"))),
        Entry("NOPE", ()),
        Entry("N", (), 1),
        Entry("MODE", (), 9),
    ]
    _, problems = params.resolve(STEPS, entries)
    said = [str(p) for p in problems]
    assert "parameter NOPE: is not a parameter of this job template" in said
    assert "parameter N (step 1): is not a parameter of this step" in said
    assert "parameter MODE (step 9): STEP_NR 9: the template has no such step" in said
    assert "parameter N (step 2): value 'x' is not an integer (INT4: -2147483648 to 2147483647)" in said
    assert "parameter PLANTS (step 1): row 1: value '3' is not allowed (allowed: 1, 2)" in said
    assert "parameter PLANTS (step 1): row 2: OPTION BT needs a HIGH value" in said
    assert "parameter MODE (step 1): takes a single value, not 2 rows (it is not a select-option)" in said
    assert "parameter DAY (step 1): is mandatory and has no value" in said


def test_values_written_and_read_again_are_the_same() -> None:
    values, _ = params.resolve(STEPS, [Entry("DAY", (Row(low="20260102"),)), Entry("N", (Row(low="5"),))])
    text = jobparams.format_values(values.values())
    again, problems = params.resolve(STEPS, jobparams.parse_entries(text))
    assert problems == []
    assert again == values


row = st.fixed_dictionaries(
    {},
    optional={
        k: st.one_of(st.text(max_size=6), st.sampled_from(["I", "E", "EQ", "BT", "CP", "1", "2", "X"]), st.integers())
        for k in ("SIGN", "OPTION", "LOW", "HIGH")
    },
)
entry = st.fixed_dictionaries(
    {"NAME": st.sampled_from(["DAY", "PLANTS", "MODE", "N", "NOPE", ""])},
    optional={"T_VALUE": st.lists(row, max_size=3), "STEP_NR": st.one_of(st.integers(-1, 3), st.text(max_size=3))},
)


@settings(max_examples=300, deadline=None)
@given(st.lists(entry, max_size=5))
def test_anything_gives_values_or_problems_never_a_crash(entries: list[dict]) -> None:
    try:
        parsed = jobparams.parse_entries(json.dumps({"VALUES": entries}))
    except errors.InvalidInput:
        return
    values, problems = params.resolve(STEPS, parsed)
    if not problems:  # what was accepted is accepted again, unchanged, when sent back
        again, more = params.resolve(STEPS, jobparams.parse_entries(jobparams.format_values(values.values())))
        assert more == []
        assert again == values
