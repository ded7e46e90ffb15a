"""Hypothesis against a live server, on both databases: whatever a client sends, the answer is never a 5xx.

Paths, query options, literals (with NULs, and lone surrogates as the
percent-encoded bytes a client would send), key predicates, raw query bytes,
JobSchedule with any JobParameterValues (deep JSON included), and odd
headers, cookies and Basic credentials. A 2xx or a 4xx is fine; a 5xx fails
the property, and so does a hang (requests' timeout). That the 2xx answers
are *right* is checked against a reference in :mod:`test_odata_fuzz_answers`.

Most examples are logged on by the session cookie, so each costs a
millisecond, not an argon2 verification; the header examples log on afresh.
Real users are never sent a wrong password: that would lock them out.
"""

from __future__ import annotations

import base64
import json
from urllib.parse import quote, urlsplit

import pytest
import requests
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from tenant import USERS, Tenant, admin

from appjobs.odata import model

pytestmark = pytest.mark.backends("sqlite", "postgresql")

#: Entity sets that exist only as the homes of function-import results: reading one is 501, as on SAP Gateway.
RESULT_SETS = {s.name for s in model.SERVICE.entity_sets} - {"JobTemplateSet", "JobStatusInfoSet"}
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

#: Percent-encoded pieces that decode to trouble: NUL, lone surrogates (CESU bytes), invalid UTF-8, an encoded slash.
NASTY_ESCAPES = ["%00", "%ed%a0%80", "%ED%BF%BF", "%ff", "%c0%af", "%2F", "%27", "%25", "%", "%2", "%zz", "%e2%82"]
LITERAL_CHARS = st.sampled_from(list("'\"()/,:.-+ TZ0123456789ABCabcxyz%$&=;\\\x00\u00e9\u4e2d\U0001f600"))
literal_text = st.one_of(
    st.text(LITERAL_CHARS, max_size=40),
    st.builds(lambda s: f"'{s}'", st.text(max_size=40)),
    st.builds(lambda s: f"datetime'{s}'", st.text(LITERAL_CHARS, max_size=30)),
    st.sampled_from(
        ["true", "false", "null", "''", "'''", "datetime''", "datetime'2018-11-20T00:00:00'", "1L", "1.5M", "'\x00'"]
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
#: Text with percent-escapes that decode to NULs, surrogates and broken UTF-8 spliced in.
encoded_text = st.text(LITERAL_CHARS, max_size=6).map(lambda text: quote(text, safe="'()$,=*"))
escaped_text = st.lists(st.one_of(st.sampled_from(NASTY_ESCAPES), encoded_text), max_size=6).map("".join)


@pytest.fixture(scope="module")
def http(tenant: Tenant) -> requests.Session:
    return tenant.session()


@pytest.fixture(scope="module")
def noop(tenant: Tenant) -> str:
    """A cheap template to schedule over and over: one step that runs ``true``, one parameter."""
    toml = tenant.data_dir.parent / "fuzz.toml"
    toml.write_text(
        '[[template]]\nname = "/ZFUZZ/NOOP"\ntext = "Fuzz no-op"\nsupports_test_mode = true\n'
        '[[template.step]]\ncommand = "true"\nparameters = { P = "" }\n'
    )
    admin(tenant.data_dir, "templates", "import", str(toml))
    return "/ZFUZZ/NOOP"


def assert_client_error_at_most(response: requests.Response) -> None:
    """A 2xx or 4xx; the one 5xx allowed is the documented 501 of reading a function-result set (SAP's too)."""
    if response.status_code == 501:
        segment = urlsplit(response.url).path.rsplit(";v=0002/", 1)[-1]
        assert segment.split("(")[0].split("/")[0] in RESULT_SETS, response.url
        return
    assert response.status_code < 500, response.text[:500]


@FUZZ
@given(name=literal_text, run_count=literal_text)
@example("'\x00'", "'A'")
def test_function_import_literals(tenant: Tenant, http: requests.Session, name: str, run_count: str) -> None:
    for function in ("JobStatusGet", "JobinfoGet"):
        response = http.get(f"{tenant.root}/{function}", params={"JobName": name, "JobRunCount": run_count}, timeout=10)
        assert_client_error_at_most(response)


@FUZZ
@given(start=literal_text, end=literal_text, text=literal_text, user=literal_text)
def test_job_list_literals(tenant: Tenant, http: requests.Session, start: str, end: str, text: str, user: str) -> None:
    params = {"CreationTimeFrom": start, "CreationTimeTo": end, "JobText": text, "JobUser": user, "$format": "json"}
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


RESOURCES = [
    "",
    "$metadata",
    "JobTemplateSet",
    "JobStatusInfoSet",
    "JobStatusGet",
    "JobSchedule",
    "JoblistSet",
    "JobTemplateSet('x')",
    "$batch",
    "JOBTEMPLATESET",
    "JobTemplateSet(",
    "JobTemplateSet)",
    # Navigations: the tail's segments are parsed as navigation properties (and their keys) after these.
    "JobHeaderSet",
    "JobHeaderSet(JobName='A',JobRunCount='B')",
    "JobHeaderSet(JobName='A',JobRunCount='B')/JobStepSet",
    "JobStepSet(JobName='A',JobRunCount='B',StepNumber=1)",
    "JobStepLogInfoSet(JobName='A',JobRunCount='B',StepNumber=1,LogHandle='C')/JobLogMessageSet",
    "JobTemplateSet(JobTemplateName='%2FAPPJOBS%2FDEMO_ECHO',JobTemplateVersion='0')",
]


@FUZZ
@given(
    method=st.sampled_from(["GET", "HEAD", "POST", "PUT", "DELETE", "MERGE", "PATCH", "OPTIONS"]),
    resource=st.sampled_from(RESOURCES),
    tail=st.lists(escaped_text, max_size=3),
    query=escaped_text,
)
def test_paths(tenant: Tenant, http: requests.Session, method: str, resource: str, tail: list[str], query: str) -> None:
    """Any method on any path under the root, with escapes that decode to NULs, surrogates or broken UTF-8."""
    path = "/".join([resource, *tail]) if tail else resource
    url = f"{tenant.root}/{path}?{query}"
    assert_client_error_at_most(http.request(method, url, timeout=10))


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=10)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=10,
)
parameter_entry = st.fixed_dictionaries(
    {"NAME": st.one_of(st.just("P"), st.text(max_size=6), json_values)},
    optional={
        "T_VALUE": st.one_of(
            st.lists(st.fixed_dictionaries({}, optional={"LOW": json_values}), max_size=2), json_values
        ),
        "STEP_NR": json_values,
    },
)
job_parameter_values = st.one_of(
    st.builds(lambda entries: json.dumps({"VALUES": entries}), st.lists(parameter_entry, max_size=3)),
    st.builds(
        lambda v: json.dumps({"VALUES": [{"NAME": "P", "T_VALUE": [{"LOW": v}]}]}),
        st.text(st.one_of(st.characters(categories=["Cs"]), st.characters()), max_size=10),
    ),  # lone surrogates
    st.builds(lambda n: "[" * n + "]" * n, st.integers(0, 3000)),
    st.builds(lambda n: '{"VALUES":' + "[" * n + "]" * n + "}", st.integers(0, 3000)),
    json_values.map(json.dumps),
    st.text(LITERAL_CHARS, max_size=30),
)


@FUZZ
@given(
    template=st.sampled_from(["noop", "'/APPJOBS/NOPE'", "'/APPJOBS/DEMO_ECHO'", "''", "'\x00'"]),
    values=job_parameter_values,
    text=st.one_of(st.none(), literal_text),
    user=st.one_of(st.none(), literal_text),
    test_mode=st.one_of(st.none(), st.sampled_from(["true", "false", "X", "''", "1"])),
)
# The reproducers, always run: a lone surrogate, nesting 1,000 deep, NULs in JobText and JobUser.
@example("noop", '{"VALUES":[{"NAME":"P","T_VALUE":[{"LOW":"\\ud800"}]}]}', None, None, None)
@example("noop", "[" * 1000 + "]" * 1000, None, None, None)
@example("noop", '{"VALUES":[{"NAME":"P","T_VALUE":[{"LOW":"\\u0000"}]}]}', "'a\x00b'", "'\x00'", "true")
def test_job_schedule(
    tenant: Tenant, http: requests.Session, noop: str, template: str, values: str, text, user, test_mode
) -> None:
    params = {"JobTemplateName": f"'{noop}'" if template == "noop" else template, "$format": "json"}
    params["JobParameterValues"] = "'" + values.replace("'", "''") + "'"
    for name, value in (("JobText", text), ("JobUser", user), ("TestModeInd", test_mode)):
        if value is not None:
            params[name] = value
    response = http.post(f"{tenant.root}/JobSchedule", params=params, timeout=10)
    assert_client_error_at_most(response)
    if response.status_code == 400:  # every refusal of a schedule says why, in SAP's words
        assert response.json()["error"]["message"]["value"], response.text


typed_row = st.fixed_dictionaries(
    {},
    optional={
        key: st.one_of(
            st.sampled_from(["I", "E", "EQ", "BT", "CP", "X", "", "1000", "20261301", "2026-12-06"]), json_values
        )
        for key in ("SIGN", "OPTION", "LOW", "HIGH")
    },
)
typed_entry = st.fixed_dictionaries(
    {"NAME": st.sampled_from(["FROM", "FULL", "LIMIT", "PLANTS", "NOPE", "PLANTS_RANGES"])},
    optional={"T_VALUE": st.lists(typed_row, max_size=3), "STEP_NR": st.one_of(st.integers(-2, 3), json_values)},
)
typed_values = st.one_of(
    st.builds(lambda entries: json.dumps({"VALUES": entries}), st.lists(typed_entry, max_size=4)), job_parameter_values
)


@FUZZ
@given(
    operation=st.sampled_from(["JobSchedule", "JobScheduleCheck"]),
    field=st.sampled_from(["JobParameterValues", "JobParameterValuesSimple", "both"]),
    values=typed_values,
    template=st.sampled_from(["'/APPJOBS/DEMO_PARAMS'", "'/APPJOBS/DEMO_CHAIN'", "'/APPJOBS/NOPE'", "''"]),
)
@example("JobScheduleCheck", "JobParameterValues", '{"VALUES":[{"NAME":"FROM","T_VALUE":[{"LOW":"\\ud800"}]}]}', "''")
def test_typed_parameters(
    tenant: Tenant, http: requests.Session, operation: str, field: str, values: str, template: str
):
    """JobSchedule and JobScheduleCheck with typed parameters, ranges and step numbers, in either field or both."""
    literal = "'" + values.replace("'", "''") + "'"
    fields = ["JobParameterValues", "JobParameterValuesSimple"] if field == "both" else [field]
    params = {"JobTemplateName": template, "JobText": "'fuzz'", "$format": "json", **dict.fromkeys(fields, literal)}
    response = http.post(f"{tenant.root}/{operation}", params=params, timeout=10)
    assert_client_error_at_most(response)
    if response.status_code == 200 and operation == "JobScheduleCheck":
        checked = response.json()["d"]
        assert checked["SuccessfulInd"] == (checked["ErrMessages"] == ""), checked
    elif response.status_code == 200:  # scheduled: its parameters read back as they would be sent again
        key = response.json()["d"]
        read = {"JobName": f"'{key['JobName']}'", "JobCount": f"'{key['JobRunCount']}'", "$format": "json"}
        for reader in ("JobParamValuesGet", "JobParamValuesStructGet"):
            assert http.get(f"{tenant.root}/{reader}", params=read, timeout=10).status_code == 200


# What an HTTP parser lets through to us: visible ASCII, blanks and obs-text, no leading blank (requests refuses it).
header_text = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=40
).map(str.lstrip)
# Never a real user: a wrong password would count towards its lockout.
basic_user = st.one_of(st.text(max_size=12), st.sampled_from(["FUZZ_NOBODY", "A\x00B", "\x00", ":", ""])).filter(
    lambda user: user.upper() not in USERS
)


def basic_header(user: str, password: str, raw: bytes | None) -> str:
    return "Basic " + base64.b64encode(raw if raw is not None else f"{user}:{password}".encode()).decode()


@settings(FUZZ, max_examples=40)
@given(
    authorization=st.one_of(
        st.none(),
        st.builds(basic_header, basic_user, st.text(max_size=12), st.one_of(st.none(), st.binary(max_size=20))),
        st.builds(lambda s: "Basic " + s, header_text),
        header_text,
    ),
    cookie=st.one_of(st.none(), header_text, st.builds(lambda v: f"SAP_SESSIONID_APJ_100={v}", escaped_text)),
    token=st.one_of(st.none(), header_text, st.just("Fetch")),
    accept=st.one_of(st.none(), header_text, st.just("application/json;q=0.1, application/xml")),
    method=st.sampled_from(["GET", "HEAD", "POST"]),
    resource=st.sampled_from(["", "JobTemplateSet", "JobStatusGet?JobName='A'&JobRunCount='B'", "JobSchedule"]),
)
@example(basic_header("JOBSCHEDULER\x00USER", "x", None), None, None, None, "GET", "")  # the reproducer
@example(basic_header("FUZZ", "pw\x00", None), "SAP_SESSIONID_APJ_100=%00", "Fetch", None, "HEAD", "JobSchedule")
def test_odd_headers(tenant: Tenant, authorization, cookie, token, accept, method: str, resource: str) -> None:
    """Fresh requests (no session): Authorization, Cookie, X-CSRF-Token and Accept as anybody may send them."""
    headers = {"Authorization": authorization, "Cookie": cookie, "X-CSRF-Token": token, "Accept": accept}
    sent = {name: value.encode("latin-1") for name, value in headers.items() if value is not None}
    response = requests.request(method, f"{tenant.root}/{resource}", headers=sent, timeout=10)
    assert_client_error_at_most(response)


@settings(FUZZ, max_examples=30)
@given(token=header_text, accept=header_text, fmt=escaped_text, host=st.one_of(st.none(), header_text))
def test_odd_headers_of_a_logged_on_client(tenant: Tenant, token: str, accept: str, fmt: str, host: str | None) -> None:
    """A logged-on client with a wrong token, any Accept, ``$format`` and Host (which the answers' URLs echo).

    Logged on by Basic (cached after the first check), without a cookie jar: requests' jar would parse the Host.
    """
    headers = {"X-CSRF-Token": token.encode("latin-1"), "Accept": accept.encode("latin-1")}
    if host is not None:
        headers["Host"] = host.encode("latin-1")
    for method, url in (
        ("POST", f"{tenant.root}/JobCancel?JobName='A'&JobRunCount='B'&$format={fmt}"),
        ("GET", f"{tenant.root}/JobTemplateSet?$format={fmt}"),
        ("GET", f"{tenant.root}/JobTemplateSet?$format=json"),
        ("GET", f"{tenant.root}/JobTemplateSet?$top=1"),
    ):
        response = requests.request(method, url, headers=headers, auth=tenant.auth(), timeout=10)
        assert_client_error_at_most(response)
