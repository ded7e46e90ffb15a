"""Transport settings as small values: timeouts and the retry policy.

    >>> Client(url, auth=("USER", "secret"), timeouts=Timeouts(read=300), retry=Retry(attempts=6))

Only requests that cannot change anything are retried (GET and HEAD), and a
POST only when it certainly never reached the service (the connection was
refused). The pause before try *n* + 1 is drawn at random between 0 and
``min(max_backoff, backoff * 2 ** (n - 1))`` ("full jitter"), so that many
schedulers that lost the same tenant do not come back in step. A
``Retry-After`` header wins over the drawn pause, up to *max_backoff*.
"""

from __future__ import annotations

import dataclasses
import random


@dataclasses.dataclass(frozen=True)
class Timeouts:
    """How long to wait for the service, in seconds."""

    connect: float = 10.0  #: to open a connection (TCP and TLS)
    read: float = 120.0  #: between two bytes of an answer
    csrf: float = 120.0  #: to read the answer of a CSRF token fetch: tenants have been measured above 60 s

    def __post_init__(self) -> None:
        if min(self.connect, self.read, self.csrf) <= 0:
            raise ValueError("timeouts must be positive")


@dataclasses.dataclass(frozen=True)
class Retry:
    """How often idempotent requests are tried, and how long to pause between tries."""

    attempts: int = 4  #: tries in all, the first one included; 1 means no retry
    backoff: float = 1.0  #: upper bound of the first pause, in seconds; it doubles with each try
    max_backoff: float = 30.0  #: upper bound of any pause, Retry-After included

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")
        if self.backoff < 0 or self.max_backoff < 0:
            raise ValueError("backoff must not be negative")

    def pause(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed try number *attempt* (1-based)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_backoff)
        ceiling = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
        return random.uniform(0.0, ceiling)  # jitter, not cryptography: random is right here
