"""Hypothesis against a live server: literals, ``$filter``, query strings and key predicates.

Whatever a client sends, the answer is a 2xx or a 4xx, never a 5xx, and it
comes (requests' timeout turns a hang into a failure). The session is
logged on by cookie, so each example costs a millisecond, not an argon2
verification.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tenant import Tenant

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

LITERAL_CHARS = st.sampled_from(list("'\"()/,:.-+ TZ0123456789ABCabcxyz%$&=;\\\x00\u00e9\u4e2d\U0001f600"))
literal_text = st.one_of(
    st.text(LITERAL_CHARS, max_size=40),
    st.builds(lambda s: f"'{s}'", st.text(max_size=40)),
    st.builds(lambda s: f"datetime'{s}'", st.text(LITERAL_CHARS, max_size=30)),
    st.sampled_from(
        ["true", "false", "null", "''", "'''", "datetime''", "datetime'2018-11-20T00:00:00'", "1L", "1.5M"]
    ),
)
PROPERTIES = [
    "JobTemplateName",
    "JobTemplateText",
    "JobTemplateStepCount",
    "SupportsTestModeInd",
    "Nope",
    "CreationDateTime",
]
filter_atom = st.one_of(
    st.builds(
        lambda p, op, v: f"{p} {op} {v}",
        st.sampled_from(PROPERTIES),
        st.sampled_from(["eq", "ne", "lt", "gt", "le", "ge", "and", "or", "add", "=="]),
        literal_text,
    ),
    st.builds(
        lambda f, p, v: f"{f}({p},{v})",
        st.sampled_from(["substringof", "startswith", "endswith", "tolower", "length", "nope"]),
        st.sampled_from(PROPERTIES),
        literal_text,
    ),
    st.text(st.sampled_from(list("() 'eqandornot,JobTemplateName0")), max_size=30),
)
filter_text = st.recursive(
    filter_atom,
    lambda inner: st.one_of(
        st.builds(lambda a, o, b: f"{a} {o} {b}", inner, st.sampled_from(["and", "or"]), inner),
        st.builds(lambda a: f"({a})", inner),
        st.builds(lambda a: f"not {a}", inner),
    ),
    max_leaves=8,
)
OPTION_NAMES = ["$filter", "$top", "$skip", "$select", "$orderby", "$format", "$inlinecount", "$expand", "$foo", "x"]
query_pairs = st.lists(
    st.tuples(st.sampled_from(OPTION_NAMES), st.one_of(st.text(max_size=30), filter_text, literal_text)), max_size=5
)


@pytest.fixture(scope="module")
def http(tenant: Tenant) -> requests.Session:
    return tenant.session()


def assert_client_error_at_most(response: requests.Response) -> None:
    assert response.status_code < 500, response.text[:500]


@FUZZ
@given(name=literal_text, run_count=literal_text)
def test_function_import_literals(tenant: Tenant, http: requests.Session, name: str, run_count: str) -> None:
    for function in ("JobStatusGet", "JobinfoGet"):
        response = http.get(f"{tenant.root}/{function}", params={"JobName": name, "JobRunCount": run_count}, timeout=10)
        assert_client_error_at_most(response)


@FUZZ
@given(start=literal_text, end=literal_text, text=literal_text)
def test_job_list_literals(tenant: Tenant, http: requests.Session, start: str, end: str, text: str) -> None:
    params = {"CreationTimeFrom": start, "CreationTimeTo": end, "JobText": text, "$format": "json"}
    assert_client_error_at_most(http.get(f"{tenant.root}/JobListGet", params=params, timeout=10))


@FUZZ
@given(expression=filter_text)
def test_filter_expressions(tenant: Tenant, http: requests.Session, expression: str) -> None:
    params = {"$filter": expression, "$format": "json"}
    assert_client_error_at_most(http.get(f"{tenant.root}/JobTemplateSet", params=params, timeout=10))


@FUZZ
@given(pairs=query_pairs)
def test_query_strings(tenant: Tenant, http: requests.Session, pairs: list[tuple[str, str]]) -> None:
    assert_client_error_at_most(http.get(f"{tenant.root}/JobTemplateSet", params=pairs, timeout=10))
    assert_client_error_at_most(http.get(f"{tenant.root}/", params=pairs, timeout=10))


@FUZZ
@given(
    key=st.one_of(
        st.text(max_size=60),
        st.builds(lambda a, b: f"JobTemplateName={a},JobTemplateVersion={b}", literal_text, literal_text),
    )
)
def test_key_predicates(tenant: Tenant, http: requests.Session, key: str) -> None:
    url = f"{tenant.root}/JobTemplateSet({quote(key, safe='')})"
    assert_client_error_at_most(http.get(url, timeout=10))


@FUZZ
@given(raw=st.binary(max_size=60))
def test_raw_query_bytes(tenant: Tenant, http: requests.Session, raw: bytes) -> None:
    url = f"{tenant.root}/JobStatusGet?{quote(raw, safe='=&%+')}"
    assert_client_error_at_most(http.get(url, timeout=10))
