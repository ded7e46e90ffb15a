"""How the HTTP side presents itself: SAP system id, client, realm, cookies, sessions."""

from __future__ import annotations

import dataclasses
import datetime as dt
import pathlib

from appjobs.auth.logon import DEFAULT_MAX_FAILED
from appjobs.auth.sessions import DEFAULT_IDLE_TIMEOUT

MAX_BATCH_BODY = 16 * 1024 * 1024  # bytes of a $batch body: 1000 requests of 16 KiB each
# A $batch body is read before its logon is checked: all of them together, across the server's connections,
# may hold at most this much, so that unauthenticated clients cannot make it buffer 16 MiB per connection.
BATCH_BODIES_BUDGET = 4 * MAX_BATCH_BODY
MAX_URL = 64 * 1024 - 1  # bytes of request target; httptools' limit, and SAP's gateway stops near it too


@dataclasses.dataclass(frozen=True)
class ServerSettings:
    """Settings of one server process.

    *system_id* and *client* name the session cookie
    (``SAP_SESSIONID_<system_id>_<client>``), the ``sap-usercontext`` cookie
    and the Basic realm, as on a real tenant; clients must not depend on
    them, so the defaults are as good as any.
    """

    system_id: str = "APJ"
    client: str = "100"
    idle_timeout: dt.timedelta = DEFAULT_IDLE_TIMEOUT
    secure_cookies: bool = False  #: True under TLS: the session cookie gets ``Secure``
    max_failed_logons: int = DEFAULT_MAX_FAILED  #: failed logons in a row that lock a user
    metrics_dir: pathlib.Path | None = None  #: where this host's processes count (see appjobs.server.metrics)
    metrics_token: str | None = None  #: bearer token for /appjobs/metrics
    metrics_open: bool = True  #: /appjobs/metrics without a token: only when serving on loopback
    public_url: str | None = None  #: where schedulers reach this server (``--public-url``), for the web pages

    @property
    def realm(self) -> str:
        return f"SAP NetWeaver Application Server [{self.system_id}/{self.client}]"

    @property
    def session_cookie(self) -> str:
        return f"SAP_SESSIONID_{self.system_id}_{self.client}"
