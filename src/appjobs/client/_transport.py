"""The HTTP side of the client: one ``requests.Session``, CSRF tokens and retries.

What a real tenant needs, and where it is done here (what each kind of
failure means is decided in :mod:`appjobs.client._answers`):

* **One session.** Connections are kept alive and the session cookies
  (``SAP_SESSIONID_<SID>_<client>``, ``sap-usercontext``) travel with every
  request: a CSRF token is only valid together with the session it came from.
  ``sap-client`` and ``sap-language`` are session query parameters.
* **CSRF** (:meth:`Transport.fetch_token`): ``HEAD <root>/`` with
  ``X-CSRF-Token: Fetch``, and a GET when the HEAD brings no token (some
  services refuse HEAD). A POST that gets ``403`` with ``x-csrf-token:
  Required`` (the token expired with its session) fetches a new token and is
  sent once more: the 403 proves the service did nothing.
* **Retries** (:meth:`Transport.get`): GET and HEAD change nothing, so they
  are retried with jittered backoff on connection failures, timeouts, 429,
  5xx and bodies that were cut off. A POST is re-sent only when its
  connection was refused, i.e. it never left. If it may have reached the
  service, :class:`~appjobs.client.OutcomeUnknown` says so, and the caller
  decides (for JobSchedule: look the job up by its text).
* **401 is final.** It is never retried, and after one the transport sends
  nothing more: on SAP's public cloud three failed logons lock the
  communication user, and every scheduler run would count.
* **No redirects.** The service never redirects; a redirect, or an HTML
  page where OData was expected, means the wrong host or a SAML login, and
  following it would hand the credentials to whoever redirected.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import logging
import time
from collections.abc import Callable
from typing import TypeVar

import requests

from appjobs.client import _answers as answers
from appjobs.client._config import Retry, Timeouts
from appjobs.client._errors import AuthenticationError, CsrfError, NotFound, ProtocolError, TransportError

logger = logging.getLogger(__name__)

T = TypeVar("T")
USER_AGENT = "appjobs-client"
JSON = {"Accept": "application/json"}


@dataclasses.dataclass(frozen=True)
class Answer:
    """A successful (2xx) answer, read whole."""

    status: int
    body: bytes
    content_type: str


def new_session(
    *,
    auth: tuple[str, str] | None,
    cert: str | tuple[str, str] | None,
    ca_bundle: str | None,
    sap_client: str | None,
    sap_language: str | None,
    trust_env: bool,
) -> requests.Session:
    """A session set up for one tenant, usable by the client and by pyodata alike.

    *trust_env* lets requests read ``HTTPS_PROXY``/``NO_PROXY`` (and
    ``REQUESTS_CA_BUNDLE`` when no *ca_bundle* is given). ``max_redirects = 0``
    makes any redirect an error for other users of the session too; the
    transport itself never lets requests follow one.
    """
    session = requests.Session()
    session.trust_env = trust_env
    session.auth = auth
    session.cert = cert
    session.verify = ca_bundle or True
    session.max_redirects = 0
    session.headers.update({"User-Agent": USER_AGENT, "DataServiceVersion": "2.0", "MaxDataServiceVersion": "2.0"})
    # ICF reads the logon client and language from these URL parameters on every request.
    if sap_client:
        session.params["sap-client"] = sap_client
    if sap_language:
        session.params["sap-language"] = sap_language
    return session


class Transport:
    """Sends requests to one service root and turns every answer into a result or a :class:`ClientError`."""

    def __init__(
        self,
        service_url: str,
        session: requests.Session,
        *,
        timeouts: Timeouts,
        retry: Retry,
    ) -> None:
        self.root = service_url.rstrip("/")
        self.session = session
        self.timeouts = timeouts
        self.retry = retry
        self.token: str | None = None
        self._refused: AuthenticationError | None = None  # the 401 that stops all further requests

    def url(self, path: str, query: str = "") -> str:
        """The absolute URL of *path* under the service root, with a ready-made *query* string."""
        return f"{self.root}/{path}" + (f"?{query}" if query else "")

    def get(self, url: str, read: Callable[[Answer], T]) -> T:
        """GET *url* and return ``read(answer)``, retrying as idempotent requests may.

        A *read* that raises :class:`ProtocolError` (a body cut off before its
        end looks like that) counts as a failed try.
        """
        return self._idempotent("GET", url, JSON, self.timeouts.read, lambda r: read(self._answer(r)))

    def post(
        self,
        url: str,
        read: Callable[[Answer], T],
        *,
        operation: str,
        body: bytes | None = None,
        content_type: str = "",
    ) -> T:
        """POST *url* with the CSRF token and return ``read(answer)``; never re-sent once it may have arrived.

        A *body* (a ``$batch``) is sent with its *content_type*; function imports have none.
        :class:`OutcomeUnknown` when the service may have acted but its answer
        is lost: the connection broke, a 5xx came back, or the body cannot be read.
        """
        sent_at = dt.datetime.now(dt.UTC)
        extra = {"Content-Type": content_type} if content_type else {}
        response = self._post_once(url, operation, sent_at, body, extra)
        if answers.csrf_required(response):
            logger.info("the CSRF token was refused; fetching a new one and sending %s once more", operation)
            self.fetch_token()
            response = self._post_once(url, operation, sent_at, body, extra)
            if answers.csrf_required(response):
                raise CsrfError(
                    f"{answers.where('POST', url)}: the service refused a freshly fetched CSRF token", status=403
                )
        if response.status_code >= 500:
            cause = answers.service_error_of(response)
            raise answers.lost(
                operation, sent_at, f"the service answered HTTP {response.status_code} ({cause})"
            ) from cause
        answer = self._answer(response)
        try:
            return read(answer)
        except ProtocolError as exc:
            raise answers.lost(operation, sent_at, str(exc)) from exc

    def fetch_token(self) -> str:
        """Fetch a CSRF token on the service root: HEAD first, GET when the HEAD brought none."""
        url = self.root + "/"
        headers = JSON | {"X-CSRF-Token": "Fetch"}
        response: requests.Response | None = None
        for method in ("HEAD", "GET"):
            response = self._idempotent(method, url, headers, self.timeouts.csrf, self._logged_on)
            token = response.headers.get("x-csrf-token", "").strip()
            if token and token.lower() != "required":
                self.token = token
                self.session.headers["X-CSRF-Token"] = token  # for anyone else using the session (pyodata)
                return token
            logger.info("%s on the service root brought no CSRF token (HTTP %s)", method, response.status_code)
        assert response is not None
        if response.status_code == 404:
            raise NotFound(
                f"{answers.service_error_of(response)}: the URL is not the service root; a service URL looks like "
                "https://my123456-api.scmibp.ondemand.com/sap/opu/odata/sap/BC_EXT_APPJOB_MANAGEMENT;v=0002",
                status=404,
            )
        if response.status_code >= 400:
            raise answers.service_error_of(response)
        raise CsrfError(f"{answers.where('GET', url)}: the service sends no CSRF token, neither for HEAD nor for GET")

    # --- one request ---------------------------------------------------------------

    def _send(
        self, method: str, url: str, headers: dict[str, str], read_timeout: float, body: bytes | None = None
    ) -> requests.Response:
        """One try; :class:`answers.Failed` when it brought no whole answer."""
        if self._refused is not None:
            raise AuthenticationError(
                f"{answers.where(method, url)}: not sent, the logon was refused before: {self._refused}"
            )
        try:
            response = self.session.request(
                method,
                url,
                headers=headers,
                data=body,
                timeout=(self.timeouts.connect, read_timeout),
                allow_redirects=False,
                verify=self.session.verify,  # given here, so that REQUESTS_CA_BUNDLE cannot override ca_bundle
            )
        except requests.TooManyRedirects as exc:
            # Not followed (allow_redirects=False), but max_redirects=0 makes requests complain about
            # the redirect it would follow next: the answer is the redirect itself, read below.
            response = exc.response
            if response is None:  # pragma: no cover - requests always attaches it
                raise answers.failure(method, url, exc) from exc
        except requests.RequestException as exc:
            raise answers.failure(method, url, exc) from exc
        if method != "HEAD" and answers.cut_off(response):
            error = TransportError(f"{answers.where(method, url)}: the answer was cut off before its Content-Length")
            raise answers.Failed(error, None, sent=True, retryable=True)
        return response

    def _idempotent(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        read_timeout: float,
        accept: Callable[[requests.Response], T],
    ) -> T:
        """Send a request that changes nothing until *accept* takes its answer, or the tries are used up."""
        for attempt in itertools.count(1):
            last = attempt >= self.retry.attempts
            try:
                response = self._send(method, url, headers, read_timeout)
            except answers.Failed as failed:
                if last or not failed.retryable:
                    raise failed.error from failed.cause
                self._pause(attempt, None, failed.error)
                continue
            if answers.transient(response.status_code) and not last:
                self._pause(attempt, answers.retry_after(response), f"HTTP {response.status_code}")
                continue
            try:
                return accept(response)
            except ProtocolError as exc:
                if last:
                    raise
                self._pause(attempt, None, exc)
        raise AssertionError("unreachable")  # pragma: no cover - itertools.count never ends

    def _post_once(
        self,
        url: str,
        operation: str,
        sent_at: dt.datetime,
        body: bytes | None = None,
        extra: dict[str, str] | None = None,
    ) -> requests.Response:
        """Send a POST with the token; try again only while the connection cannot even be opened."""
        token = self.token or self.fetch_token()
        headers = JSON | (extra or {}) | {"X-CSRF-Token": token}
        for attempt in itertools.count(1):
            try:
                return self._send("POST", url, headers, self.timeouts.read, body)
            except answers.Failed as failed:
                if failed.sent:
                    raise answers.lost(operation, sent_at, str(failed.error)) from failed.cause
                if not failed.retryable or attempt >= self.retry.attempts:
                    raise failed.error from failed.cause
                self._pause(attempt, None, failed.error)
        raise AssertionError("unreachable")  # pragma: no cover

    def _pause(self, attempt: int, retry_after: float | None, reason: object) -> None:
        seconds = self.retry.pause(attempt, retry_after)
        logger.warning(
            "try %d of %d failed (%s); trying again in %.1f s", attempt, self.retry.attempts, reason, seconds
        )
        time.sleep(seconds)

    # --- reading answers -----------------------------------------------------------

    def _logged_on(self, response: requests.Response) -> requests.Response:
        """*response* itself, unless it is a 401 (which stops the transport for good), a redirect or a login page."""
        if response.status_code == 401:
            self._refused = answers.unauthorized(response)
            raise self._refused
        wrong = answers.wrong_host(response)
        if wrong is not None:
            raise wrong
        return response

    def _answer(self, response: requests.Response) -> Answer:
        """The :class:`Answer` of a 2xx *response*; the error any other answer means."""
        self._logged_on(response)
        if response.status_code >= 300:
            raise answers.service_error_of(response)
        return Answer(response.status_code, response.content, response.headers.get("content-type", ""))
