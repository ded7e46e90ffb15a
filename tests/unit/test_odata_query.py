"""System query options: the guide's and third parties' URLs, each option's syntax and errors, and apply()."""

from __future__ import annotations

import contextlib
import re
import urllib.parse

import pytest
from hypothesis import given
from hypothesis import strategies as st
from odata_samples import FAST, FUZZ, NAVIGATIONS, PROPERTIES, TEMPLATES, names

from appjobs import errors
from appjobs.odata.filter import Compare, Literal, Property, parse_filter
from appjobs.odata.query import OrderBy, QueryOptions, apply, matches, parse_query


def query(url: str) -> QueryOptions:
    """Parse the options of *url* as a server would: split and decode the query string, then parse."""
    pairs = urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query, keep_blank_values=True)
    return parse_query(pairs, PROPERTIES, navigations=NAVIGATIONS)


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


# --- edges: each one a line that a mistake in parsing or evaluating would cross ------------------


def test_a_parameter_without_dollar_does_not_hide_the_options_after_it() -> None:
    """``sap-client`` first, then ``$top``: the foreign parameter is skipped and the option still counts."""
    options = parse_query([("sap-client", "100"), ("$top", "5"), ("JobName", "x"), ("$skip", "2")], PROPERTIES)
    assert (options.top, options.skip) == (5, 2)


def test_an_option_of_exactly_the_bound_is_accepted() -> None:
    """8192 characters is allowed, 8193 is not: the bound is inclusive, as its message says."""
    head = "JobTemplateText eq '"
    exact = head + "x" * (8192 - len(head) - 1) + "'"
    assert len(exact) == 8192
    assert parse_query({"$filter": exact}, PROPERTIES).filter is not None
    with pytest.raises(errors.InvalidInput, match="longer than 8192"):
        parse_query({"$filter": exact[:-1] + "x'"}, PROPERTIES)


def test_error_messages_quote_forty_characters_whole_and_cut_longer_names() -> None:
    """A name of up to 40 characters is quoted whole; a longer one is cut after 40, marked with '...'."""
    for length in (40, 41):
        name = "$" + "o" * (length - 1)
        with pytest.raises(errors.InvalidInput) as caught:
            parse_query({name: "1"}, PROPERTIES)
        shown = repr(name) if length == 40 else repr(name[:40]) + "..."
        assert str(caught.value) == f"{shown} is not a valid system query option"


def test_or_of_false_conditions_is_false() -> None:
    """``A or B`` matches only where one of them holds: an entity for which both are false is not selected."""
    node = parse_filter("JobTemplateStepCount eq 1 or JobTemplateStepCount eq 3", PROPERTIES)
    assert not matches(node, {"JobTemplateStepCount": 2})
    assert matches(node, {"JobTemplateStepCount": 3})
    assert not matches(parse_filter("ReturnCode eq 1 or ReturnCode eq 2", PROPERTIES), {"ReturnCode": None})


def test_not_of_an_or_of_false_conditions_holds() -> None:
    """``not (A or B)`` selects the entities for which neither holds: false, not null, is what ``or`` gives."""
    node = parse_filter("not (ReturnCode eq 1 or ReturnCode eq 2)", PROPERTIES)
    assert matches(node, {"ReturnCode": 3})
    assert not matches(node, {"ReturnCode": 2})
    assert matches(node, {"ReturnCode": None})  # eq with null is false (not null): neither holds


def test_expand_error_names_the_first_segment() -> None:
    """An unknown navigation property in ``$expand`` is named in the message, not a later path segment."""
    with pytest.raises(errors.InvalidInput, match=r"^\$expand: 'Nowhere' is not a navigation property here$"):
        parse_query({"$expand": "Nowhere/JobStepSet"}, PROPERTIES, navigations=NAVIGATIONS)
