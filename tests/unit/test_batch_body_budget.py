"""The budget of ``$batch`` bodies held before their logon: unauthenticated clients cannot fill the memory.

``read_body`` runs on the event loop for a ``$batch`` POST before the logon is checked; each body
may have 16 MiB, and the server's bodies together at most :data:`BATCH_BODIES_BUDGET`.
"""

from __future__ import annotations

import asyncio

import pytest
from starlette.datastructures import Headers

from appjobs.server.bodies import BodyBudget, read_body
from appjobs.server.config import BATCH_BODIES_BUDGET, MAX_BATCH_BODY
from appjobs.server.errors import BatchBodiesBusy, PayloadTooLarge, raw_error


def receiver(*chunks: bytes, gone: bool = False):
    """An ASGI ``receive`` that delivers *chunks* as one request body (then a disconnect, if *gone*)."""
    messages = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]
    if gone:
        messages[-1]["more_body"] = True
        messages.append({"type": "http.disconnect"})

    async def receive() -> dict:
        return messages.pop(0)

    return receive


def read(budget: BodyBudget, *chunks: bytes, limit: int = 100, gone: bool = False, length: str | None = None) -> bytes:
    headers = Headers({"content-length": length} if length else {})
    return asyncio.run(read_body(receiver(*chunks, gone=gone), headers, limit, budget))


def test_a_body_is_read_whole_and_its_bytes_stay_taken_until_given_back() -> None:
    budget = BodyBudget(100)
    assert read(budget, b"abc", b"def") == b"abcdef"
    assert budget.held == 6  # the caller gives them back once the answer is sent
    budget.give_back(6)
    assert budget.held == 0


def test_bodies_beyond_the_budget_are_refused_and_give_back_what_they_took() -> None:
    budget = BodyBudget(10)
    assert read(budget, b"12345678") == b"12345678"
    with pytest.raises(BatchBodiesBusy):
        read(budget, b"12", b"345")  # 8 held: the first chunk fits, the second does not
    assert budget.held == 8  # the refused body's 2 bytes are back
    budget.give_back(8)
    assert read(budget, b"1234567890") == b"1234567890"


def test_a_body_over_its_limit_is_413_and_gives_back_what_it_took() -> None:
    budget = BodyBudget(1000)
    with pytest.raises(PayloadTooLarge):
        read(budget, b"x" * 60, b"x" * 60, limit=100)
    with pytest.raises(PayloadTooLarge):
        read(budget, b"x", length="101", limit=100)  # said in advance: nothing read
    assert budget.held == 0


def test_a_client_that_goes_away_gives_back_what_it_took() -> None:
    budget = BodyBudget(100)
    assert read(budget, b"abc", gone=True) == b""
    assert budget.held == 0


def test_busy_is_503_with_retry_after() -> None:
    status, headers, body = raw_error(BatchBodiesBusy("busy"), "json")
    assert (status, headers["retry-after"]) == (503, "5")
    assert b"busy" in body


def test_the_budget_holds_a_few_whole_bodies() -> None:
    assert BATCH_BODIES_BUDGET >= 2 * MAX_BATCH_BODY
