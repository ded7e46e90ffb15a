"""SAP Gateway's protocol over real HTTP: logon, sessions, CSRF, formats, and every error path.

Each error test asserts the status, the headers and the shape of the body,
in XML and in JSON, against a real ``appjobs serve``.
"""

from __future__ import annotations

import base64

import pytest
import requests
from defusedxml import ElementTree
from tenant import Tenant

pytestmark = pytest.mark.backends("sqlite", "postgresql")

M = "{http://schemas.microsoft.com/ado/2007/08/dataservices/metadata}"
ATOM = "{http://www.w3.org/2005/Atom}"
D = "{http://schemas.microsoft.com/ado/2007/08/dataservices}"


def error_of(response: requests.Response, fmt: str) -> tuple[str, str]:
    """Code and message of an SAP error document, checking the document's shape on the way."""
    if fmt == "json":
        assert response.headers["content-type"].startswith("application/json")
        error = response.json()["error"]
        inner = error["innererror"]
        assert error["message"]["lang"] == "en"
        assert inner["application"]["service_id"] == "BC_EXT_APPJOB_MANAGEMENT"
        assert len(inner["transactionid"]) == 32
        assert isinstance(inner["errordetails"], list)
        assert "SAP_Note" in inner["Error_Resolution"]
        return error["code"], error["message"]["value"]
    assert response.headers["content-type"].startswith("application/xml")
    root = ElementTree.fromstring(response.content)
    assert root.tag == f"{M}error"
    message = root.find(f"{M}message")
    assert message is not None
    assert message.get("{http://www.w3.org/XML/1998/namespace}lang") == "en"
    inner = root.find(f"{M}innererror")
    assert inner is not None
    assert inner.findtext(f"{M}application/{M}service_id") == "BC_EXT_APPJOB_MANAGEMENT"
    assert len(inner.findtext(f"{M}transactionid") or "") == 32
    assert inner.find(f"{M}errordetails") is not None
    return root.findtext(f"{M}code") or "", message.text or ""


FORMATS = {"xml": {}, "json": {"$format": "json"}}


# --- logon ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/JobTemplateSet", "/JobStatusGet?JobName='J'&JobRunCount='C'&$format=json"])
def test_no_credentials_get_401_with_a_basic_realm(tenant: Tenant, path: str) -> None:
    response = requests.get(tenant.root + path, timeout=10)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith('Basic realm="SAP NetWeaver Application Server [')
    assert "x-csrf-token" not in response.headers
    assert "set-cookie" not in response.headers


@pytest.mark.parametrize("user", ["JOBSCHEDULERUSER", "NOSUCHUSER"])
def test_wrong_password_and_unknown_user_get_the_same_401(tenant: Tenant, user: str) -> None:
    response = requests.get(tenant.root + "/", auth=(user, "not-the-password"), timeout=10)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Basic realm="SAP NetWeaver Application Server [APJ/100]"'
    assert "Logon failed" in response.text


def test_user_names_are_case_insensitive(tenant: Tenant) -> None:
    response = requests.get(tenant.root + "/", auth=("jobscheduleruser", tenant.password), timeout=10)
    assert response.status_code == 200


def test_garbage_authorization_header_is_401(tenant: Tenant) -> None:
    # Not Base64 at all, no colon, another scheme, and letters beyond ASCII (sent as Latin-1, as HTTP allows).
    for header in ("Basic !!!", "Basic " + base64.b64encode(b"no-colon").decode(), "Bearer abc", "Basic \xe9t\xe9"):
        response = requests.get(tenant.root + "/", headers={"Authorization": header}, timeout=10)
        assert response.status_code == 401, header


def test_good_credentials_with_a_character_that_is_not_base64_are_401(tenant: Tenant) -> None:
    """The header must be Base64 as a whole: a stray character is not skipped over to find credentials."""
    encoded = base64.b64encode(":".join(tenant.auth()).encode()).decode()
    assert requests.get(tenant.root + "/", headers={"Authorization": "Basic " + encoded}, timeout=10).status_code == 200
    for stray in (encoded[:8] + "*" + encoded[8:], encoded[:8] + "." + encoded[8:], encoded + "!"):
        response = requests.get(tenant.root + "/", headers={"Authorization": "Basic " + stray}, timeout=10)
        assert response.status_code == 401, stray


# --- CSRF and sessions -----------------------------------------------------------------


def test_token_fetch_opens_a_session_shaped_like_a_tenants(tenant: Tenant) -> None:
    response = requests.head(tenant.root + "/$metadata", auth=tenant.auth(), headers={"X-CSRF-Token": "Fetch"})
    assert response.status_code == 200
    token = response.headers["x-csrf-token"]
    assert len(token) == 24
    assert token.endswith("==")
    cookies = response.headers["set-cookie"]
    assert "sap-usercontext=sap-client=100; path=/" in cookies
    assert "SAP_SESSIONID_APJ_100=" in cookies
    assert "%3d; path=/; HttpOnly; SameSite=Strict" in cookies
    # Like a tenant's: the session id is 32 random bytes in URL-safe base64, its one "=" sent as %3d.
    value = cookies.split("SAP_SESSIONID_APJ_100=", 1)[1].split(";", 1)[0]
    assert len(value) == 46
    assert value.endswith("%3d")
    assert not value.endswith("%3d%3d")
    assert len(base64.urlsafe_b64decode(value.replace("%3d", "="))) == 32
    assert len(base64.urlsafe_b64decode(token)) == 16


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("HEAD", "/"),
        ("HEAD", ""),
        ("GET", "/JobTemplateSet"),
        ("HEAD", "/JobSchedule/"),  # SAP Cloud SDK's fetch: a 405, but with a token
        ("HEAD", "/JobSchedule"),
        ("GET", "/NoSuchThing"),  # a 404 still carries the token
        ("HEAD", "/$metadata"),
    ],
)
def test_any_get_or_head_fetches_a_token(tenant: Tenant, method: str, path: str) -> None:
    response = requests.request(
        method, tenant.root + path, auth=tenant.auth(), headers={"X-CSRF-Token": "fetch"}, timeout=10
    )
    assert len(response.headers["x-csrf-token"]) == 24
    assert "SAP_SESSIONID_APJ_100" in response.headers["set-cookie"]


def test_post_without_token_is_403_required(tenant: Tenant) -> None:
    params = {"JobTemplateName": "'/APPJOBS/DEMO_ECHO'", "JobText": "'x'"}
    response = requests.post(tenant.root + "/JobSchedule", params=params, auth=tenant.auth(), timeout=10)
    assert response.status_code == 403
    assert response.headers["x-csrf-token"] == "Required"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text == "CSRF token validation failed"


def test_token_of_another_session_is_refused(tenant: Tenant) -> None:
    first, second = tenant.session(), tenant.session()
    second.headers["X-CSRF-Token"] = first.headers["X-CSRF-Token"]
    response = second.post(tenant.root + "/JobCancel", params={"JobName": "'X'", "JobRunCount": "'Y'"})
    assert response.status_code == 403
    assert response.text == "CSRF token validation failed"


def test_token_without_its_cookie_is_refused(tenant: Tenant) -> None:
    http = tenant.session()
    token = http.headers["X-CSRF-Token"]
    response = requests.post(
        tenant.root + "/JobCancel?JobName='X'&JobRunCount='Y'", auth=tenant.auth(), headers={"X-CSRF-Token": token}
    )
    assert response.status_code == 403


def test_session_cookie_authenticates_without_the_password(tenant: Tenant) -> None:
    http = tenant.session()
    http.auth = None
    job = tenant.schedule(http)
    assert tenant.wait_status(http, job) == "F"


def test_same_token_for_the_whole_session(tenant: Tenant) -> None:
    http = tenant.session()
    again = http.head(tenant.root + "/", headers={"X-CSRF-Token": "Fetch"})
    assert again.headers["x-csrf-token"] == http.headers["X-CSRF-Token"]
    assert "set-cookie" not in again.headers  # the session exists: no new cookie


def test_basic_credentials_of_another_user_override_the_cookie(tenant: Tenant) -> None:
    http = tenant.session("JOBSCHEDULERUSER")
    http.auth = ("OTHERUSER", "wrong password")
    assert http.get(tenant.root + "/").status_code == 401


def test_the_cookie_of_a_live_session_decides_beside_its_own_users_wrong_password(tenant: Tenant) -> None:
    """A session logs on without the password being checked again, also when the client sends a stale one."""
    http = tenant.session("JOBSCHEDULERUSER")
    http.auth = ("jobscheduleruser", "an-old-password")
    assert http.get(tenant.root + "/").status_code == 200
    http.cookies.clear()
    assert http.get(tenant.root + "/").status_code == 401


def test_unknown_session_cookie_falls_back_to_basic(tenant: Tenant) -> None:
    cookies = {"SAP_SESSIONID_APJ_100": "bm8tc3VjaC1zZXNzaW9u%3d"}
    assert requests.get(tenant.root + "/", cookies=cookies, timeout=10).status_code == 401
    assert requests.get(tenant.root + "/", cookies=cookies, auth=tenant.auth(), timeout=10).status_code == 200


# --- error documents -----------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_unknown_job_is_400_apj_rt_003(tenant: Tenant, fmt: str) -> None:
    params = {"JobName": "'0123456789ABCDEF0123456789ABCDEF'", "JobRunCount": "'AbCdEfGh'", **FORMATS[fmt]}
    response = requests.get(tenant.root + "/JobStatusGet", params=params, auth=tenant.auth(), timeout=10)
    assert response.status_code == 400
    assert response.headers["dataserviceversion"] == "1.0"
    assert error_of(response, fmt) == ("APJ_RT/003", "Job doesn't exist.")


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_unknown_template_is_400_apj_rt_015(tenant: Tenant, fmt: str) -> None:
    http = tenant.session()
    params = {"JobTemplateName": "'/APPJOBS/NOPE'", "JobText": "'x'", **FORMATS[fmt]}
    response = http.post(tenant.root + "/JobSchedule", params=params)
    assert response.status_code == 400
    code, message = error_of(response, fmt)
    assert code == "APJ_RT/015"
    assert "/APPJOBS/NOPE" in message


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_abort_of_a_finished_job_is_400_apj_rt_040(tenant: Tenant, fmt: str) -> None:
    http = tenant.session()
    job = tenant.schedule(http)
    tenant.wait_status(http, job)
    params = {"JobName": f"'{job['JobName']}'", "JobRunCount": f"'{job['JobRunCount']}'", **FORMATS[fmt]}
    response = http.post(tenant.root + "/JobAbort", params=params)
    assert response.status_code == 400
    assert error_of(response, fmt) == ("APJ_RT/040", "Job couldn't be canceled: Job is not running.")


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_unknown_segment_is_404(tenant: Tenant, fmt: str) -> None:
    response = requests.get(tenant.root + "/JobStatusGot", params=FORMATS[fmt], auth=tenant.auth(), timeout=10)
    assert response.status_code == 404
    assert error_of(response, fmt) == (
        "005056A509B11EE1B9A8FEC11C21D78E",
        "Resource not found for the segment 'JobStatusGot'.",
    )


def test_unknown_service_version_is_404(tenant: Tenant) -> None:
    url = tenant.server.url + "/sap/opu/odata/sap/BC_EXT_APPJOB_MANAGEMENT;v=0003/JobTemplateSet"
    response = requests.get(url, auth=tenant.auth(), timeout=10)
    assert response.status_code == 404
    assert "BC_EXT_APPJOB_MANAGEMENT;v=0003" in error_of(response, "xml")[1]


@pytest.mark.parametrize("fmt", ["xml", "json"])
@pytest.mark.parametrize(
    "params",
    [
        {"JobName": "X", "JobRunCount": "'Y'"},  # missing quotes
        {"JobName": "'" + "A" * 33 + "'", "JobRunCount": "'Y'"},  # over MaxLength 32
        {"JobName": "'X", "JobRunCount": "'Y'"},  # unterminated
    ],
)
def test_malformed_literal_is_400(tenant: Tenant, fmt: str, params: dict[str, str]) -> None:
    response = requests.get(
        tenant.root + "/JobinfoGet", params={**params, **FORMATS[fmt]}, auth=tenant.auth(), timeout=10
    )
    assert response.status_code == 400
    assert error_of(response, fmt)[1].startswith("Malformed URI literal syntax")


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_wrong_method_on_a_function_import_is_405(tenant: Tenant, fmt: str) -> None:
    response = requests.get(
        tenant.root + "/JobSchedule", params={"JobTemplateName": "'x'", **FORMATS[fmt]}, auth=tenant.auth()
    )
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert "GET" in error_of(response, fmt)[1]
    http = tenant.session()
    response = http.post(tenant.root + "/JobStatusGet", params=FORMATS[fmt])
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"


def test_url_over_64_kib_is_414(tenant: Tenant) -> None:
    for size in (64 * 1024, 200 * 1024):
        text = "x" * size
        response = requests.get(tenant.root + "/JobListGet", params={"JobText": f"'{text}'"}, auth=tenant.auth())
        assert response.status_code == 414
        assert error_of(response, "xml")[1] == "The request URI is longer than 65535 characters."


def test_url_just_under_64_kib_is_served(tenant: Tenant) -> None:
    padding = "p" * (60 * 1024)
    response = requests.get(
        tenant.root + "/JobTemplateSet", params={"sap-padding": padding, "$top": "1"}, auth=tenant.auth()
    )
    assert response.status_code == 200


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_bad_query_option_is_400(tenant: Tenant, fmt: str) -> None:
    for params in ({"$top": "-1"}, {"$filter": "JobTemplateName eq"}, {"$orderby": "Nope"}, {"$foo": "1"}):
        response = requests.get(
            tenant.root + "/JobTemplateSet", params={**params, **FORMATS[fmt]}, auth=tenant.auth(), timeout=10
        )
        assert response.status_code == 400, params
        code, message = error_of(response, fmt)
        assert code == "005056A509B11EE1BB8AF4A65EC3CA20", params
        assert message, params


def test_bad_job_parameter_values_name_the_reason(tenant: Tenant) -> None:
    http = tenant.session()
    params = {"JobTemplateName": "'/APPJOBS/DEMO_ECHO'", "JobText": "'x'", "JobParameterValues": "'{broken'"}
    response = http.post(tenant.root + "/JobSchedule", params={**params, "$format": "json"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "APJ_RT/032"
    assert "JobParameterValues" in error["innererror"]["errordetails"][0]["message"]


# --- formats -------------------------------------------------------------------------


def test_accept_header_chooses_json(tenant: Tenant) -> None:
    response = requests.get(
        tenant.root + "/JobTemplateSet", headers={"Accept": "application/json"}, auth=tenant.auth(), timeout=10
    )
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.headers["dataserviceversion"] == "2.0"
    assert {t["JobTemplateName"] for t in response.json()["d"]["results"]} >= {"/APPJOBS/DEMO_ECHO"}


def test_atom_is_the_default(tenant: Tenant) -> None:
    response = requests.get(tenant.root + "/JobTemplateSet", auth=tenant.auth(), timeout=10)
    assert response.headers["content-type"] == "application/atom+xml;type=feed; charset=utf-8"
    feed = ElementTree.fromstring(response.content)
    assert feed.findtext(f"{ATOM}title") == "JobTemplateSet"
    names = [e.findtext(f"{ATOM}content/{M}properties/{D}JobTemplateName") for e in feed.findall(f"{ATOM}entry")]
    assert "/APPJOBS/DEMO_CHAIN" in names


def test_head_has_headers_and_no_body(tenant: Tenant) -> None:
    response = requests.head(tenant.root + "/JobTemplateSet", auth=tenant.auth(), timeout=10)
    assert response.status_code == 200
    assert int(response.headers["content-length"]) > 0
    assert response.content == b""


def test_service_document_in_both_formats(tenant: Tenant) -> None:
    xml = requests.get(tenant.root + "/", auth=tenant.auth(), timeout=10)
    assert b"JobTemplateSet" in xml.content
    assert xml.headers["content-type"].startswith("application/atomsvc+xml")
    document = requests.get(tenant.root + "?$format=json", auth=tenant.auth(), timeout=10).json()
    assert "JobTemplateSet" in document["d"]["EntitySets"]


def test_homes_of_function_results_read_as_empty_sets(tenant: Tenant) -> None:
    """JoblistSet holds JobListGet's answers only: read directly, an empty feed; any key, 404 naming the set."""
    response = requests.get(tenant.root + "/JoblistSet?$format=json", auth=tenant.auth(), timeout=10)
    assert response.status_code == 200
    assert response.json() == {"d": {"results": []}}
    keyed = tenant.root + "/JoblistSet(JobName='A',JobRunCount='B')?$format=json"
    response = requests.get(keyed, auth=tenant.auth(), timeout=10)
    assert response.status_code == 404
    assert "JoblistSet" in response.json()["error"]["message"]["value"]


def test_paging_ordering_and_count_in_atom(tenant: Tenant) -> None:
    params = {"$orderby": "JobTemplateName desc", "$top": "2", "$skip": "1", "$inlinecount": "allpages"}
    response = requests.get(tenant.root + "/JobTemplateSet", params=params, auth=tenant.auth(), timeout=10)
    feed = ElementTree.fromstring(response.content)
    names = [e.findtext(f"{ATOM}content/{M}properties/{D}JobTemplateName") for e in feed.findall(f"{ATOM}entry")]
    everything = sorted(
        (
            t["JobTemplateName"]
            for t in requests.get(tenant.root + "/JobTemplateSet?$format=json", auth=tenant.auth(), timeout=10).json()[
                "d"
            ]["results"]
        ),
        reverse=True,
    )
    assert names == everything[1:3]
    assert feed.findtext(f"{M}count") == str(len(everything))
