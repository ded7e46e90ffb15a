"""``$filter``: the grammar, its errors, evaluation with OData's null rules, and fuzzing of both."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import decimal
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from odata_samples import FAST, FUZZ, PROPERTIES, TEMPLATES, where

from appjobs import errors
from appjobs.odata import filter as odata_filter
from appjobs.odata.filter import MAX_DEPTH, And, Call, Compare, Literal, Not, Or, Property, parse_filter
from appjobs.odata.literals import format_literal
from appjobs.odata.query import evaluate, matches, parse_query

UTC = dt.UTC


# --- $filter grammar -----------------------------------------------------------------


def test_and_binds_tighter_than_or_and_chains_stay_flat() -> None:
    """``a or b and c`` is ``a or (b and c)``, and repeated ``and``/``or`` form one flat node."""
    node = parse_filter("SupportsTestMode or SupportsTestMode and SupportsTestMode and SupportsTestMode", PROPERTIES)
    flag = Property("SupportsTestMode", "Edm.Boolean")
    assert node == Or((flag, And((flag, flag, flag))))


def test_parentheses_and_not() -> None:
    """Parentheses group, and ``not`` applies to a parenthesised condition."""
    assert where("not (JobTemplateStepCount gt 1)") == ["/IBP/CREATE_TIME_PERIODS"]
    assert where("(JobTemplateStepCount eq 1 or JobTemplateStepCount eq 3) and SupportsTestMode eq false") == [
        "/IBP/CREATE_TIME_PERIODS"
    ]


def test_not_binds_tighter_than_a_comparison() -> None:
    """``not A eq 'x'`` negates A itself, as OData's precedence says, so it is refused with a hint."""
    with pytest.raises(errors.InvalidInput, match=r"'not' at position 1 needs a condition.*write not \(A eq B\)"):
        parse_filter("not JobTemplateName eq 'x'", PROPERTIES)


@pytest.mark.parametrize(
    "text",
    [
        "JobTemplateStepCount   eq\t1",
        "  JobTemplateStepCount eq 1  ",
        "JobTemplateStepCount eq 1\n",
        "(JobTemplateStepCount eq 1)",
        "( JobTemplateStepCount eq 1 )",
        "JobTemplateStepCount eq +1",
    ],
)
def test_whitespace_is_free(text: str) -> None:
    """Blanks, tabs and newlines between tokens do not matter."""
    assert where(text) == ["/IBP/CREATE_TIME_PERIODS"]


def test_no_blank_needed_before_a_quote() -> None:
    """``JobTemplateText eq'Delete Logs'`` reads the operator and the string apart."""
    assert where("JobTemplateText eq'Delete Logs'") == ["/IBP/LOG_DELETION"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("JobTemplateName ne '/IBP/LOG_DELETION'", ["/IBP/CREATE_TIME_PERIODS", "Z7ILD5Y5ARYPNRMFW7LYMT557IA"]),
        ("JobTemplateStepCount lt 2", ["/IBP/CREATE_TIME_PERIODS"]),
        ("JobTemplateStepCount le 2", ["/IBP/CREATE_TIME_PERIODS", "/IBP/LOG_DELETION"]),
        ("JobTemplateStepCount gt 2", ["Z7ILD5Y5ARYPNRMFW7LYMT557IA"]),
        ("JobTemplateStepCount ge 2L", ["/IBP/LOG_DELETION", "Z7ILD5Y5ARYPNRMFW7LYMT557IA"]),
        ("JobTemplateStepCount eq 2.0", ["/IBP/LOG_DELETION"]),
        ("CreationDateTime ge datetime'2016-01-01T00:00'", ["/IBP/LOG_DELETION"]),
        ("CreationDateTime lt datetimeoffset'2016-01-01T01:00:00+01:00'", ["/IBP/CREATE_TIME_PERIODS"]),
        ("JobTemplateText eq 'Nightly load O''Brien'", ["Z7ILD5Y5ARYPNRMFW7LYMT557IA"]),
        ("SupportsTestMode", ["/IBP/LOG_DELETION"]),
        ("SupportsTestMode eq true", ["/IBP/LOG_DELETION"]),
        ("SupportsTestMode eq false", ["/IBP/CREATE_TIME_PERIODS"]),
        ("not SupportsTestMode", ["/IBP/CREATE_TIME_PERIODS"]),
        ("SupportsTestMode eq null", ["Z7ILD5Y5ARYPNRMFW7LYMT557IA"]),
        ("CreationDateTime ne null", ["/IBP/CREATE_TIME_PERIODS", "/IBP/LOG_DELETION"]),
        ("null eq CreationDateTime", ["Z7ILD5Y5ARYPNRMFW7LYMT557IA"]),
        ("JobTemplateStepCount gt 1 eq true", ["/IBP/LOG_DELETION", "Z7ILD5Y5ARYPNRMFW7LYMT557IA"]),
    ],
)
def test_comparisons(text: str, expected: list[str]) -> None:
    """eq, ne, lt, le, gt and ge compare properties with literals of a compatible type, null included."""
    assert where(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("substringof('Log',JobTemplateText)", ["/IBP/LOG_DELETION"]),
        ("substringof('log',tolower(JobTemplateText)) eq true", ["/IBP/LOG_DELETION"]),
        ("startswith(JobTemplateName,'/IBP/')", ["/IBP/CREATE_TIME_PERIODS", "/IBP/LOG_DELETION"]),
        ("startswith(JobTemplateName,'/IBP/') eq false", ["Z7ILD5Y5ARYPNRMFW7LYMT557IA"]),
        ("endswith(JobTemplateName,'DELETION')", ["/IBP/LOG_DELETION"]),
        ("toupper(JobTemplateText) eq 'DELETE LOGS'", ["/IBP/LOG_DELETION"]),
        ("length(JobTemplateText) eq 11", ["/IBP/LOG_DELETION"]),
        ("length(tolower(toupper(JobTemplateText))) gt 20", ["/IBP/CREATE_TIME_PERIODS"]),
        ("not endswith(JobTemplateName,'DELETION')", ["/IBP/CREATE_TIME_PERIODS", "Z7ILD5Y5ARYPNRMFW7LYMT557IA"]),
        ("startswith( JobTemplateName , 'Z' )", ["Z7ILD5Y5ARYPNRMFW7LYMT557IA"]),
    ],
)
def test_functions(text: str, expected: list[str]) -> None:
    """The six string functions work bare or compared with true/false, and nest."""
    assert where(text) == expected


def test_function_call_tree() -> None:
    """A function call is a Call node whose arguments are trees themselves."""
    node = parse_filter("substringof('x',tolower(JobTemplateText))", PROPERTIES)
    text = Property("JobTemplateText", "Edm.String")
    assert node == Call("substringof", (Literal("x", "Edm.String"), Call("tolower", (text,))))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("JobTemplateStepCount eq 'x'", "invalid parameter type for 'eq' at position 22: JobTemplateStepCount is"),
        ("'x' eq JobTemplateStepCount", "'x' is Edm.String, JobTemplateStepCount is Edm.Int32"),
        ("SupportsTestMode eq 1", "invalid parameter type for 'eq' at position 18"),
        ("CreationDateTime gt '2016-01-01'", "CreationDateTime is Edm.DateTime, '2016-01-01' is Edm.String"),
        ("LastChangedTime eq datetime'2016-01-01T00:00'", "LastChangedTime is Edm.Time"),
        ("JobTemplateNam eq 'x'", "unknown property 'JobTemplateNam' at position 1"),
        ("jobtemplatename eq 'x'", "unknown property 'jobtemplatename' at position 1"),
        ("JobTemplateName EQ 'x'", "unexpected 'EQ' at position 17"),
        ("JobTemplateName eq 'x' AND SupportsTestMode", "unexpected 'AND' at position 24"),
        ("contains(JobTemplateName,'x')", "unknown function 'contains' at position 1"),
        ("startswith(JobTemplateName)", "startswith() at position 1 takes 2 argument(s), not 1"),
        ("startswith(JobTemplateStepCount,'1')", "argument 1 of startswith() at position 1 must be Edm.String"),
        ("length(JobTemplateName) eq 'x'", "length(...) is Edm.Int32, 'x' is Edm.String"),
        ("JobTemplateName eq 'x", "unterminated string at position 20"),
        ('JobTemplateName eq "x"', "unexpected character '\"' at position 20"),
        ("JobTemplateName eq datetime'2018-13-01T00:00'", "Edm.DateTime literal (expected e.g."),
        (
            "JobTemplateStepCount eq 99999999999999999999",
            "not a valid Edm.Int64 literal (expected e.g. 42L) (at position 25)",
        ),
        ("JobTemplateStepCount eq 1d", "is not a literal (at position 25)"),
        ("JobTemplateName eq binary'00'", "unsupported literal prefix 'binary' (at position 20)"),
        ("JobTemplateName eq 'a' eq true", "comparisons do not chain; unexpected 'eq' at position 24"),
        ("JobTemplateStepCount gt 1 lt 5", "comparisons do not chain; unexpected 'lt' at position 27"),
        ("JobTemplateName", "JobTemplateName is Edm.String, not a condition"),
        ("length(JobTemplateName)", "length(...) is Edm.Int32, not a condition"),
        ("JobTemplateName and SupportsTestMode", "'and' joins conditions, but JobTemplateName is Edm.String"),
        ("SupportsTestMode or 1", "'or' joins conditions, but 1 is Edm.Int32"),
        ("(SupportsTestMode", "expected ')' but found end of $filter"),
        ("SupportsTestMode)", "unexpected ')' at position 17; expected 'and', 'or' or the end"),
        ("SupportsTestMode eq", "unexpected end of $filter; expected a property"),
        ("eq true", "unexpected 'eq' at position 1"),
        ("and", "unexpected 'and' at position 1"),
        ("()", "unexpected ')' at position 2"),
        ("startswith(JobTemplateName,'x',)", "unexpected ')' at position 32"),
        ("", "$filter is empty"),
        ("   ", "$filter is empty"),
    ],
)
def test_filter_errors_name_the_problem(text: str, message: str) -> None:
    """Every $filter error is InvalidInput naming the token, its position (from 1) or the property."""
    with pytest.raises(errors.InvalidInput, match=re.escape(message)):
        parse_filter(text, PROPERTIES)


def test_bad_filter_literal_is_a_malformed_literal() -> None:
    """A literal $filter cannot read is SAP's Malformed URI literal syntax, with its position."""
    with pytest.raises(errors.MalformedLiteral, match=r"^\$filter: Malformed URI literal syntax: .*position 20"):
        parse_filter("JobTemplateName eq guid'x'", PROPERTIES)


def test_nesting_is_bounded() -> None:
    """Parentheses, ``not`` and function calls may nest MAX_DEPTH levels deep, and no deeper."""
    deep = "(" * MAX_DEPTH + "JobTemplateStepCount eq 1" + ")" * MAX_DEPTH
    assert where(deep) == ["/IBP/CREATE_TIME_PERIODS"]
    assert where("not " * MAX_DEPTH + "SupportsTestMode") == ["/IBP/LOG_DELETION"]
    too_deep = "(" * (MAX_DEPTH + 1) + "SupportsTestMode" + ")" * (MAX_DEPTH + 1)
    with pytest.raises(
        errors.InvalidInput, match=f"nested more than {MAX_DEPTH} levels deep at position {MAX_DEPTH + 1}"
    ):
        parse_filter(too_deep, PROPERTIES)
    calls = "length(" + "tolower(" * MAX_DEPTH + "JobTemplateText" + ")" * (MAX_DEPTH + 1) + " eq 1"
    with pytest.raises(errors.InvalidInput, match="nested more than"):
        parse_filter(calls, PROPERTIES)


def test_long_flat_filters_do_not_nest() -> None:
    """Hundreds of ``or``-joined comparisons stay one flat node, so length, not depth, limits them."""
    text = " or ".join(f"ReturnCode eq {n}" for n in range(300))
    node = parse_filter(text, PROPERTIES)
    assert isinstance(node, Or)
    assert len(node.operands) == 300


def test_filter_length_is_bounded() -> None:
    """A $filter longer than MAX_LENGTH characters is refused before tokenizing."""
    with pytest.raises(errors.InvalidInput, match="longer than 8192"):
        parse_filter("SupportsTestMode or " * 500 + "SupportsTestMode", PROPERTIES)


# --- evaluation ----------------------------------------------------------------------


def test_null_rules() -> None:
    """Comparisons and functions of null are null, ``and`` with false is false, ``or`` with true is true."""
    entity = {"JobTemplateText": None, "SupportsTestMode": True}
    assert evaluate(parse_filter("JobTemplateText eq 'x'", PROPERTIES), entity) is False
    assert evaluate(parse_filter("JobTemplateText gt 'x'", PROPERTIES), entity) is None
    assert evaluate(parse_filter("startswith(JobTemplateText,'x')", PROPERTIES), entity) is None
    assert evaluate(parse_filter("not startswith(JobTemplateText,'x')", PROPERTIES), entity) is None
    assert evaluate(parse_filter("JobTemplateText gt 'x' and false", PROPERTIES), entity) is False
    assert evaluate(parse_filter("JobTemplateText gt 'x' and true", PROPERTIES), entity) is None
    assert evaluate(parse_filter("JobTemplateText gt 'x' or SupportsTestMode", PROPERTIES), entity) is True
    assert evaluate(parse_filter("JobTemplateText gt 'x' or false", PROPERTIES), entity) is None
    assert not matches(parse_filter("not (JobTemplateText gt 'x')", PROPERTIES), entity)


def test_missing_property_counts_as_null() -> None:
    """An entity without a declared property is treated as having it null."""
    assert matches(parse_filter("JobTemplateText eq null", PROPERTIES), {})


def test_naive_datetimes_in_entities_count_as_utc() -> None:
    """A naive datetime in an entity compares as UTC with an Edm.DateTime literal instead of failing."""
    node = parse_filter("CreationDateTime eq datetime'2018-11-20T00:00'", PROPERTIES)
    assert matches(node, {"CreationDateTime": dt.datetime(2018, 11, 20)})


def test_numbers_of_different_types_compare_by_value() -> None:
    """An Edm.Int16 property equals a decimal literal of the same value."""
    assert matches(parse_filter("ReturnCode eq 0.0M", PROPERTIES), {"ReturnCode": 0})
    assert parse_filter("ReturnCode eq 0.5", PROPERTIES) == Compare(
        "eq", Property("ReturnCode", "Edm.Int16"), Literal(decimal.Decimal("0.5"), "Edm.Decimal")
    )


def test_not_node() -> None:
    """``not`` builds a Not node around its operand."""
    assert parse_filter("not SupportsTestMode", PROPERTIES) == Not(Property("SupportsTestMode", "Edm.Boolean"))


# --- properties ----------------------------------------------------------------------


@FAST
@given(st.text(), st.text().filter(lambda text: "\x00" not in text))
def test_string_equality_filter_agrees_with_python(stored: str, wanted: str) -> None:
    """``P eq <literal of x>`` holds exactly when the stored text equals x, whatever quotes or Unicode (no NUL)."""
    node = parse_filter(f"JobTemplateText eq {format_literal(wanted, 'Edm.String')}", PROPERTIES)
    assert matches(node, {"JobTemplateText": stored}) == (stored == wanted)
    assert matches(node, {"JobTemplateText": wanted})


FILTER_WORDS = [
    *PROPERTIES, "Unknown", "eq", "ne", "gt", "ge", "lt", "le", "and", "or", "not", "EQ", "(", ")", ",", "(", ")",
    "'x'", "'O''B'", "''", "'", "1", "-2", "3L", "1.5", "2M", "1d", "true", "false", "null",
    "datetime'2018-11-20T00:00'", "datetime'2018-13-01T00:00'", "datetimeoffset'2018-11-20T00:00Z'", "time'PT1H'",
    "guid'x'", "binary'00'",
    *odata_filter.FUNCTIONS, "contains", "$", "\t", "💥",
]  # fmt: skip
filter_like = st.lists(st.sampled_from(FILTER_WORDS), max_size=30).map(" ".join)
glued_filter_like = st.lists(st.sampled_from(FILTER_WORDS), max_size=30).map("".join)
SAMPLE = {**TEMPLATES[0], "JobTemplateParameterName": "P_TSKID", "ReturnCode": 0, "LastChangedTime": dt.time(1)}


@FUZZ
@given(st.one_of(st.text(), filter_like, glued_filter_like))
def test_filter_fuzz_parses_or_raises_appjobs_errors(text: str) -> None:
    """Any $filter text parses, and then evaluates without error, or raises an appjobs error; nothing else."""
    try:
        options = parse_query({"$filter": text}, PROPERTIES)
    except errors.AppjobsError:
        return
    assert options.filter is not None
    for entity in (SAMPLE, TEMPLATES[2], {}):
        assert isinstance(matches(options.filter, entity), bool)


@FUZZ
@given(st.integers(0, 3 * MAX_DEPTH), st.sampled_from(["(", "not (", "length(", "tolower("]))
def test_deep_nesting_fuzz_never_overflows_the_stack(depth: int, opener: str) -> None:
    """However deep the nesting, parsing ends in a tree or an InvalidInput, never a RecursionError."""
    closer = ")" * depth
    with contextlib.suppress(errors.InvalidInput):
        parse_filter(opener * depth + "SupportsTestMode" + closer, PROPERTIES)


# --- edges of the error messages: what they quote, and where they cut ----------------------------


def test_error_messages_quote_forty_character_tokens_whole_and_cut_longer_ones() -> None:
    """A token of up to 40 characters is quoted whole in an error; a longer one is cut after 40, with '...'."""
    for length in (40, 41):
        name = "P" * length
        with pytest.raises(errors.InvalidInput) as caught:
            parse_filter(f"{name} eq 1", PROPERTIES)
        shown = repr(name) if length == 40 else repr(name[:40]) + "..."
        assert str(caught.value) == f"$filter: unknown property {shown} at position 1"


def test_long_literals_are_cut_in_type_errors() -> None:
    """A literal longer than 40 characters is shown by its first 40 and '...' when its type is wrong."""
    literal = "'" + "x" * 50 + "'"
    with pytest.raises(errors.InvalidInput) as caught:
        parse_filter(f"{literal} and SupportsTestMode", PROPERTIES)
    assert str(caught.value) == f"$filter: 'and' joins conditions, but {literal[:40]}... is Edm.String"


def test_the_tree_is_made_of_frozen_values() -> None:
    """As the module promises, a parsed filter is a tree of frozen dataclasses: hashable, equal when
    parsed from the same text, and not to be changed by whoever evaluates it (nor are the functions)."""
    text = "not (length(tolower(JobTemplateText)) gt 3 or ReturnCode eq 1) and SupportsTestMode eq true"
    tree = parse_filter(text, PROPERTIES)
    assert hash(tree) == hash(parse_filter(text, PROPERTIES))
    nodes, seen = [tree], set()
    while nodes:
        node = nodes.pop()
        seen.add(type(node).__name__)
        field = dataclasses.fields(node)[0].name
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(node, field, None)
        for value in vars(node).values():
            nodes.extend(v for v in (value if isinstance(value, tuple) else (value,)) if dataclasses.is_dataclass(v))
    assert seen == {"And", "Not", "Or", "Compare", "Call", "Property", "Literal"}
    with pytest.raises(dataclasses.FrozenInstanceError):
        odata_filter.FUNCTIONS["length"].returns = "Edm.String"  # type: ignore[misc]


def test_literals_of_forty_characters_are_shown_whole_in_type_errors() -> None:
    """The cut in a type error starts past 40 characters: 40 are shown whole, 41 as 40 and '...'."""
    for length, shown in ((40, "'" + "x" * 38 + "'"), (41, "'" + "x" * 39 + "...")):
        literal = "'" + "x" * (length - 2) + "'"
        with pytest.raises(errors.InvalidInput) as caught:
            parse_filter(f"{literal} and SupportsTestMode", PROPERTIES)
        assert str(caught.value) == f"$filter: 'and' joins conditions, but {shown} is Edm.String"


def test_depth_counts_nesting_not_groups_side_by_side() -> None:
    """Many parenthesized groups one after another are not nested; a group closed does not buy more depth."""
    flat = " or ".join(["(SupportsTestMode)"] * (MAX_DEPTH + 50))
    assert isinstance(parse_filter(flat, PROPERTIES), Or)
    too_deep = "(SupportsTestMode) and " + "(" * (MAX_DEPTH + 1) + "SupportsTestMode" + ")" * (MAX_DEPTH + 1)
    with pytest.raises(errors.InvalidInput, match=f"nested more than {MAX_DEPTH} levels deep"):
        parse_filter(too_deep, PROPERTIES)


def test_tokens_are_frozen_values() -> None:
    """tokenize gives values: the same text gives equal, hashable tokens that nobody can change."""
    tokens = odata_filter.tokenize("SupportsTestMode eq true")
    assert tokens == odata_filter.tokenize("SupportsTestMode eq true")
    assert len({*tokens}) == 4
    with pytest.raises(dataclasses.FrozenInstanceError):
        tokens[0].text = "x"  # type: ignore[misc]
