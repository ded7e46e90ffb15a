"""The client's ``$batch`` against a service without it: a typed error that says so.

What it does against a service with ``$batch`` is tested over HTTP against
``appjobs serve`` in ``tests/integration/test_client_batch.py``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sap_peer import PASSWORD, USER, SapPeer, reply

from appjobs.client import BatchNotSupported, Client, JobKey, Retry, Schedule, ServiceError

KEY = JobKey("0123456789ABCDEF0123456789ABCDEF", "ABCDEFGH")


@pytest.fixture
def peer() -> Iterator[SapPeer]:
    with SapPeer() as running:
        yield running


@pytest.fixture
def client(peer: SapPeer) -> Client:
    return Client(peer.root, auth=(USER, PASSWORD), retry=Retry(attempts=2, backoff=0.01), trust_env=False)


@pytest.mark.parametrize("status", [None, 405, 501])
def test_a_service_without_batch_is_named_as_such(client: Client, peer: SapPeer, status: int | None) -> None:
    """An older tenant answers 404 (no such resource), or 405/501; both calls say $batch is missing."""
    if status is not None:
        peer.script("POST", "$batch", reply(status), reply(status))
    with pytest.raises(BatchNotSupported, match=r"does not offer \$batch \(HTTP (404|405|501)"):
        client.schedule_many([Schedule("/APPJOBS/DEMO_ECHO", "one")])
    with pytest.raises(BatchNotSupported) as raised:
        client.statuses([KEY])
    assert isinstance(raised.value, ServiceError)
    posted = peer.requests_for("$batch", "POST")
    assert len(posted) == 2, "a batch is sent once, never retried"
    assert posted[0].headers["content-type"].startswith("multipart/mixed; boundary=batch_")
    assert posted[0].headers["x-csrf-token"]


def test_nothing_to_send_sends_nothing(client: Client, peer: SapPeer) -> None:
    assert client.schedule_many([]) == []
    assert client.statuses([]) == []
    assert peer.seen == []
