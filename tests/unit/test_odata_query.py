"""System query options and ``$filter``: the guide's and third parties' URLs, the grammar, errors, and evaluation."""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import re
import urllib.parse
from collections.abc import Iterable, Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from appjobs import errors
from appjobs.odata import filter as odata_filter
from appjobs.odata.filter import MAX_DEPTH, And, Call, Compare, Literal, Not, Or, Property, parse_filter
from appjobs.odata.literals import format_literal
from appjobs.odata.query import OrderBy, QueryOptions, apply, evaluate, matches, parse_query

UTC = dt.UTC
# A part of JobTemplate and JobHeader (sap-service-facts.md 2.2), enough types to exercise every rule.
PROPERTIES = {
    "JobTemplateName": "Edm.String",
    "JobTemplateVersion": "Edm.String",
    "JobTemplateText": "Edm.String",
    "JobTemplateParameterName": "Edm.String",
    "JobPlannedStartDateTime": "Edm.String",
    "SupportsTestMode": "Edm.Boolean",
    "JobTemplateStepCount": "Edm.Int32",
    "ReturnCode": "Edm.Int16",
    "CreationDateTime": "Edm.DateTime",
    "LastChangedTime": "Edm.Time",
}
NAVIGATIONS = ("JobStepSet", "JobTemplateParameterSet")
TEMPLATES = [
    {
        "JobTemplateName": "/IBP/CREATE_TIME_PERIODS",
        "JobTemplateText": "Create Time Periods for Time Profiles",
        "SupportsTestMode": False,
        "JobTemplateStepCount": 1,
        "CreationDateTime": dt.datetime(2015, 9, 1, 15, 42, 36, tzinfo=UTC),
    },
    {
        "JobTemplateName": "/IBP/LOG_DELETION",
        "JobTemplateText": "Delete Logs",
        "SupportsTestMode": True,
        "JobTemplateStepCount": 2,
        "CreationDateTime": dt.datetime(2016, 1, 1, tzinfo=UTC),
    },
    {
        "JobTemplateName": "Z7ILD5Y5ARYPNRMFW7LYMT557IA",
        "JobTemplateText": "Nightly load O'Brien",
        "SupportsTestMode": None,
        "JobTemplateStepCount": 3,
        "CreationDateTime": None,
    },
]
FAST = settings(deadline=None)
FUZZ = settings(max_examples=300, deadline=dt.timedelta(seconds=2))


def query(url: str) -> QueryOptions:
    """Parse the options of *url* as a server would: split and decode the query string, then parse."""
    pairs = urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query, keep_blank_values=True)
    return parse_query(pairs, PROPERTIES, navigations=NAVIGATIONS)


def names(entities: Iterable[Mapping[str, object]]) -> list[object]:
    """The template names of *entities*, in order."""
    return [entity["JobTemplateName"] for entity in entities]


def where(text: str) -> list[object]:
    """The names of the templates that $filter *text* selects."""
    node = parse_filter(text, PROPERTIES)
    return [entity["JobTemplateName"] for entity in TEMPLATES if matches(node, entity)]


# --- URLs from the guide and from third-party clients ---------------------------------


def test_guides_template_search_by_text_and_select() -> None:
    """The guide's ``$filter=JobTemplateText eq '<JOBTEXT>'`` with ``$select=JobTemplateName`` is a comparison."""
    options = query("/JobTemplateSet?$filter=JobTemplateText eq 'Delete Logs'&$select=JobTemplateName")
    assert options.filter == Compare(
        "eq", Property("JobTemplateText", "Edm.String"), Literal("Delete Logs", "Edm.String")
    )
    assert options.select == ("JobTemplateName",)
    assert names(apply(options, TEMPLATES)[0]) == ["/IBP/LOG_DELETION"]


def test_guides_template_search_percent_encoded_with_a_quote_in_the_text() -> None:
    """A client's encoded filter (``%20``, ``%27``, doubled quote, ``+`` for a blank) finds a text with a quote."""
    options = query("/JobTemplateSet?$filter=JobTemplateText%20eq%20%27Nightly+load+O%27%27Brien%27&$format=json")
    assert names(apply(options, TEMPLATES)[0]) == ["Z7ILD5Y5ARYPNRMFW7LYMT557IA"]
    assert options.format == "json"


def test_third_party_template_read_with_top_and_format() -> None:
    """``$top=50000&$format=json``, as a third-party tool reads all templates, is accepted."""
    options = query("/JobTemplateSet?$top=50000&$format=json")
    assert (options.top, options.format, options.filter) == (50000, "json", None)


def test_third_party_header_read_with_select_top_and_timestamp_string_filter() -> None:
    """JobHeaderSet's Edm.String timestamps are compared as strings, as third parties filter them."""
    options = query(
        "/JobHeaderSet?$select=JobTemplateName,JobPlannedStartDateTime&$top=100"
        "&$filter=JobPlannedStartDateTime ge '20260101000000'"
    )
    headers = [{"JobPlannedStartDateTime": "20251231235959"}, {"JobPlannedStartDateTime": "20260804123000"}]
    assert apply(options, headers) == ([headers[1]], 1)
    assert options.select == ("JobTemplateName", "JobPlannedStartDateTime")


def test_third_party_startswith_eq_true() -> None:
    """``startswith(JobTemplateParameterName,'P_TSKID') eq true`` parses and selects by prefix."""
    node = parse_filter("startswith(JobTemplateParameterName,'P_TSKID') eq true", PROPERTIES)
    assert matches(node, {"JobTemplateParameterName": "P_TSKID 0001"})
    assert not matches(node, {"JobTemplateParameterName": "S_MATNR0001"})


def test_parameters_without_dollar_are_ignored() -> None:
    """sap-client, sap-language, saml2 and function-import parameters are not system query options."""
    url = "/JobTemplateSet?sap-client=100&sap-language=EN&saml2=disabled&JobName=' '&CreationTimeFrom=x"
    assert query(url) == QueryOptions()


def test_expand_from_sap_docs() -> None:
    """SAP's documented ``$expand=JobStepSet/JobStepLogInfoSet/JobLogMessageSet`` is kept as a path."""
    options = query("/JobHeaderSet(JobName='A',JobRunCount='B')?$expand=JobStepSet/JobStepLogInfoSet/JobLogMessageSet")
    assert options.expand == ("JobStepSet/JobStepLogInfoSet/JobLogMessageSet",)


# --- options other than $filter ------------------------------------------------------


def test_a_mapping_works_like_pairs() -> None:
    """A plain mapping (like Starlette's QueryParams) is read like a list of pairs."""
    options = parse_query({"$top": "5", "$skip": "10", "$inlinecount": "allpages", "sap-client": "100"}, PROPERTIES)
    assert (options.top, options.skip, options.inlinecount) == (5, 10, True)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("$foo", "'$foo' is not a valid system query option"),
        ("$Filter", "'$Filter' is not a valid system query option"),
        ("$count", "'$count' is not a valid system query option"),
        ("$skiptoken", "'$skiptoken' is not supported"),
    ],
)
def test_unknown_system_query_options_are_refused(name: str, message: str) -> None:
    """An unknown or differently-cased ``$`` option is an error in SAP's words; ``$skiptoken`` is unsupported."""
    with pytest.raises(errors.InvalidInput, match=re.escape(message)):
        parse_query([(name, "x")], PROPERTIES)


def test_repeated_option_is_refused() -> None:
    """The same option twice is ambiguous and refused, naming it."""
    with pytest.raises(errors.InvalidInput, match=re.escape("'$top' is given more than once")):
        parse_query([("$top", "1"), ("$top", "2")], PROPERTIES)


@pytest.mark.parametrize(
    ("text", "select"),
    [
        ("JobTemplateName", ("JobTemplateName",)),
        (
            "JobTemplateName, JobTemplateText ,SupportsTestMode",
            ("JobTemplateName", "JobTemplateText", "SupportsTestMode"),
        ),
        ("JobTemplateName,JobTemplateName", ("JobTemplateName",)),
        ("*", None),
        ("JobTemplateName,*", None),
        ("JobStepSet", ("JobStepSet",)),
    ],
)
def test_select(text: str, select: tuple[str, ...] | None) -> None:
    """``$select`` is a comma list, blanks around names allowed; ``*`` means every property."""
    assert parse_query({"$select": text}, PROPERTIES, navigations=NAVIGATIONS).select == select


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("JobTemplateNam", "$select: unknown property 'JobTemplateNam'"),
        ("jobtemplatename", "$select: unknown property 'jobtemplatename'"),
        ("JobTemplateName,", "$select: empty property name"),
        ("", "$select: empty property name"),
        ("JobStepSet/StepStatus", "$select: unknown property 'JobStepSet/StepStatus'"),
    ],
)
def test_bad_select(text: str, message: str) -> None:
    """An unknown (or differently-cased) property or an empty item in ``$select`` is named in the error."""
    with pytest.raises(errors.InvalidInput, match=re.escape(message)):
        parse_query({"$select": text}, PROPERTIES, navigations=NAVIGATIONS)


@pytest.mark.parametrize("name", ["$top", "$skip"])
@pytest.mark.parametrize(("text", "value"), [("0", 0), ("7", 7), ("0010", 10), ("2147483647", 2**31 - 1)])
def test_top_and_skip(name: str, text: str, value: int) -> None:
    """``$top`` and ``$skip`` are non-negative whole numbers."""
    options = parse_query({name: text}, PROPERTIES)
    assert getattr(options, name[1:]) == value


@pytest.mark.parametrize("name", ["$top", "$skip"])
@pytest.mark.parametrize("text", ["-1", "abc", "", "1.5", " 5", "2147483648", "99999999999999999999", "٥"])
def test_bad_top_and_skip(name: str, text: str) -> None:
    """A negative, fractional, blank, too large or non-ASCII number is Gateway's invalid option value, naming it."""
    with pytest.raises(errors.InvalidInput, match=re.escape(f"Invalid system query options value: {name}=")):
        parse_query({name: text}, PROPERTIES)


@pytest.mark.parametrize(
    ("text", "orderby"),
    [
        ("JobTemplateName", (OrderBy("JobTemplateName"),)),
        ("JobTemplateName asc", (OrderBy("JobTemplateName"),)),
        ("JobTemplateStepCount desc", (OrderBy("JobTemplateStepCount", descending=True),)),
        (
            " JobTemplateStepCount   desc ,JobTemplateName",
            (OrderBy("JobTemplateStepCount", descending=True), OrderBy("JobTemplateName")),
        ),
    ],
)
def test_orderby(text: str, orderby: tuple[OrderBy, ...]) -> None:
    """``$orderby`` items are a property and an optional asc or desc, blanks free."""
    assert parse_query({"$orderby": text}, PROPERTIES).orderby == orderby


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("JobTemplateName DESC", "$orderby: 'JobTemplateName DESC' is not"),
        ("JobTemplateName desc asc", "$orderby: 'JobTemplateName desc asc' is not"),
        ("JobTemplateName JobTemplateName", "$orderby: 'JobTemplateName JobTemplateName' is not"),
        ("Unknown desc", "$orderby: unknown property 'Unknown'"),
        ("JobTemplateName,", "$orderby: '' is not"),
    ],
)
def test_bad_orderby(text: str, message: str) -> None:
    """A wrong direction (keywords are case-sensitive), an unknown property or an empty item is named."""
    with pytest.raises(errors.InvalidInput, match=re.escape(message)):
        parse_query({"$orderby": text}, PROPERTIES)


def test_inlinecount_and_format() -> None:
    """``$inlinecount`` is allpages or none; ``$format`` is json, atom or xml, kept as given."""
    assert parse_query({"$inlinecount": "allpages"}, PROPERTIES).inlinecount is True
    assert parse_query({"$inlinecount": "none"}, PROPERTIES).inlinecount is False
    for value in ("json", "atom", "xml"):
        assert parse_query({"$format": value}, PROPERTIES).format == value


@pytest.mark.parametrize(
    ("name", "text"),
    [("$inlinecount", "AllPages"), ("$inlinecount", ""), ("$format", "JSON"), ("$format", "csv"), ("$format", "")],
)
def test_bad_inlinecount_and_format(name: str, text: str) -> None:
    """Any other ``$inlinecount`` or ``$format`` value is an invalid option value naming the option."""
    with pytest.raises(errors.InvalidInput, match=re.escape(f"Invalid system query options value: {name}=")):
        parse_query({name: text}, PROPERTIES)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Unknown", "$expand: 'Unknown' is not a navigation property"),
        ("JobStepSet//X", "$expand: 'JobStepSet//X' is not a path"),
        ("", "$expand: '' is not a path"),
    ],
)
def test_bad_expand(text: str, message: str) -> None:
    """``$expand`` must start with a navigation property of the entity type and be a path of names."""
    with pytest.raises(errors.InvalidInput, match=re.escape(message)):
        parse_query({"$expand": text}, PROPERTIES, navigations=NAVIGATIONS)


def test_option_length_is_bounded() -> None:
    """An option longer than the bound is refused before any parsing."""
    with pytest.raises(errors.InvalidInput, match=r"\$select is longer than 8192 characters"):
        parse_query({"$select": "x" * 9000}, PROPERTIES)


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


# --- apply ---------------------------------------------------------------------------


def test_apply_counts_after_filter_and_before_paging() -> None:
    """The total counts every match, while $skip and $top cut the page."""
    options = parse_query(
        {"$filter": "JobTemplateStepCount ge 1", "$orderby": "JobTemplateName", "$skip": "1", "$top": "1"}, PROPERTIES
    )
    page, total = apply(options, TEMPLATES)
    assert names(page) == ["/IBP/LOG_DELETION"]
    assert total == 3


def test_apply_sorts_nulls_first_ascending_and_last_descending() -> None:
    """Null sorts before every value in ascending order and after every value in descending order."""
    ascending, _ = apply(parse_query({"$orderby": "CreationDateTime"}, PROPERTIES), TEMPLATES)
    descending, _ = apply(parse_query({"$orderby": "CreationDateTime desc"}, PROPERTIES), TEMPLATES)
    assert names(ascending) == ["Z7ILD5Y5ARYPNRMFW7LYMT557IA", "/IBP/CREATE_TIME_PERIODS", "/IBP/LOG_DELETION"]
    assert names(descending) == ["/IBP/LOG_DELETION", "/IBP/CREATE_TIME_PERIODS", "Z7ILD5Y5ARYPNRMFW7LYMT557IA"]


def test_apply_sorts_by_several_keys() -> None:
    """Later $orderby keys break ties of earlier ones, each in its own direction."""
    pairs = [("0", 1), ("1", 2), ("0", 3), ("1", 1)]
    rows = [{"JobTemplateVersion": v, "JobTemplateStepCount": n, "JobTemplateName": f"{v}{n}"} for v, n in pairs]
    options = parse_query({"$orderby": "JobTemplateVersion desc,JobTemplateStepCount"}, PROPERTIES)
    assert names(apply(options, rows)[0]) == ["11", "12", "01", "03"]


def test_apply_edges() -> None:
    """$top=0 gives an empty page with the full count; skipping past the end gives an empty page."""
    assert apply(parse_query({"$top": "0"}, PROPERTIES), TEMPLATES) == ([], 3)
    assert apply(parse_query({"$skip": "5"}, PROPERTIES), TEMPLATES) == ([], 3)
    assert apply(QueryOptions(), TEMPLATES) == (TEMPLATES, 3)


def test_apply_leaves_entities_whole() -> None:
    """$select does not cut entities in apply; rendering applies it."""
    page, _ = apply(parse_query({"$select": "JobTemplateName"}, PROPERTIES), TEMPLATES[:1])
    assert page[0] is TEMPLATES[0]


# --- properties ----------------------------------------------------------------------


@FAST
@given(st.text(), st.text())
def test_string_equality_filter_agrees_with_python(stored: str, wanted: str) -> None:
    """``P eq <literal of x>`` holds exactly when the stored text equals x, whatever quotes or Unicode it holds."""
    node = parse_filter(f"JobTemplateText eq {format_literal(wanted, 'Edm.String')}", PROPERTIES)
    assert matches(node, {"JobTemplateText": stored}) == (stored == wanted)
    assert matches(node, {"JobTemplateText": wanted})


@FAST
@given(
    st.lists(st.one_of(st.none(), st.integers(-5, 5)), max_size=20),
    st.integers(-6, 6),
    st.integers(0, 25),
    st.integers(0, 25),
)
def test_apply_page_is_the_slice_of_sorted_matches(counts: list[int | None], bound: int, skip: int, top: int) -> None:
    """The page is the sorted matches from $skip, at most $top long, and the total is the number of matches."""
    params = {
        "$filter": f"JobTemplateStepCount ge {bound}",
        "$orderby": "JobTemplateStepCount",
        "$skip": str(skip),
        "$top": str(top),
    }
    page, total = apply(parse_query(params, PROPERTIES), [{"JobTemplateStepCount": count} for count in counts])
    wanted = sorted(count for count in counts if count is not None and count >= bound)
    assert total == len(wanted)
    assert [entity["JobTemplateStepCount"] for entity in page] == wanted[skip : skip + top]


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
@given(
    st.sampled_from(["$select", "$top", "$skip", "$orderby", "$inlinecount", "$format", "$expand", "$other", "x"]),
    st.one_of(
        st.text(), st.lists(st.sampled_from([*PROPERTIES, ",", " ", "asc", "desc", "*", "/", "1", "-"])).map("".join)
    ),
)
def test_other_options_fuzz_parse_or_raise_appjobs_errors(name: str, text: str) -> None:
    """Any value of any option either parses or raises an appjobs error; nothing else."""
    with contextlib.suppress(errors.AppjobsError):
        parse_query([(name, text)], PROPERTIES, navigations=NAVIGATIONS)


@FUZZ
@given(st.integers(0, 3 * MAX_DEPTH), st.sampled_from(["(", "not (", "length(", "tolower("]))
def test_deep_nesting_fuzz_never_overflows_the_stack(depth: int, opener: str) -> None:
    """However deep the nesting, parsing ends in a tree or an InvalidInput, never a RecursionError."""
    closer = ")" * depth
    with contextlib.suppress(errors.InvalidInput):
        parse_filter(opener * depth + "SupportsTestMode" + closer, PROPERTIES)
