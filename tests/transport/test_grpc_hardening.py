"""The mailbox bounds what a peer can make it hold (issue 18): unfinished chunked messages are
capped per peer (count and bytes) and expire; every refusal is one line of the server log."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from vfl.transport.events import EventLog
from vfl.transport.grpc import CHUNK_BYTES, GrpcChannel, GrpcSettings, MailboxServer
from vfl.transport.mailbox import Refused, Router
from vfl.transport.memory import MemoryHub
from vfl.transport.tls import init_ca, issue_party_cert, party_files
from vfl.wire.v1 import common_pb2

JOB = "job-h"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("certs")
    init_ca(d)
    for n in ("insurer", "hospital"):
        issue_party_cert(d, n)
    return d


@dataclass
class Mailbox:
    server: MailboxServer
    peer: GrpcChannel  # the insurer, used as a raw sender
    lines: list[str]

    def send(self, topic: str, payload: bytes, chunk: int = 0, chunks: int = 2) -> grpc.StatusCode:
        env = common_pb2.Envelope(
            job_id=JOB, sender="insurer", receiver="hospital", topic=topic,
            type="vfl.v1.Ack", payload=payload, chunk=chunk, chunks=chunks,
        )  # fmt: skip
        try:
            self.peer._stubs["hospital"].Deliver(env, timeout=10)
        except grpc.RpcError as exc:
            return exc.code()  # type: ignore[attr-defined, no-any-return]
        return grpc.StatusCode.OK

    def events(self, name: str) -> list[dict[str, object]]:
        return [r for r in map(json.loads, self.lines) if r["event"] == name]


def _mailbox(certs: Path, **settings: float) -> Iterator[Mailbox]:
    s = GrpcSettings(connect_timeout=3.0, call_timeout=5.0, **settings)  # type: ignore[arg-type]
    pa, pb = _port(), _port()
    lines: list[str] = []
    server = MailboxServer(
        "hospital", f"127.0.0.1:{pb}", {"insurer": f"127.0.0.1:{pa}"}, party_files(certs, "hospital"), s,
        EventLog("hospital", lines.append),
    )  # fmt: skip
    server.open_job(JOB, ["insurer", "hospital"], 5.0)
    peer = GrpcChannel(
        "insurer", f"127.0.0.1:{pa}", {"hospital": f"127.0.0.1:{pb}"}, JOB, party_files(certs, "insurer"),
        settings=s,
    )  # fmt: skip
    try:
        yield Mailbox(server, peer, lines)
    finally:
        peer.close()
        server.stop()


@pytest.fixture
def mailbox(certs: Path) -> Iterator[Mailbox]:
    yield from _mailbox(certs, max_partials_per_peer=8, partial_timeout=60.0)


def test_unfinished_messages_are_capped_per_peer_and_refusals_are_logged(mailbox: Mailbox) -> None:
    codes = [mailbox.send(f"t/{i}", b"x" * 100) for i in range(100)]  # 100 first chunks, never finished
    assert codes.count(grpc.StatusCode.OK) == 8
    assert codes.count(grpc.StatusCode.RESOURCE_EXHAUSTED) == 92
    router = mailbox.server.router
    assert router.partial_bytes("insurer") == 800
    refused = mailbox.events("delivery_refused")
    assert len(refused) == 92 and {r["peer"] for r in refused} == {"insurer"}
    assert refused[0]["code"] == "RESOURCE_EXHAUSTED" and "unfinished" in str(refused[0]["msg"])


def test_unfinished_messages_expire_and_a_closed_job_drops_its_own(mailbox: Mailbox) -> None:
    router = mailbox.server.router
    for i in range(3):
        assert mailbox.send(f"t/{i}", b"y" * 10) == grpc.StatusCode.OK
    assert router.expire(time.monotonic()) == 0  # not yet overdue
    assert router.expire(time.monotonic() + 61.0) == 3
    assert router.partial_bytes() == 0
    expired = mailbox.events("partial_expired")
    assert [e["topic"] for e in sorted(expired, key=lambda e: str(e["topic"]))] == ["t/0", "t/1", "t/2"]
    assert mailbox.send("t/9", b"z") == grpc.StatusCode.OK
    mailbox.server.close_job(JOB)
    assert router.partial_bytes() == 0


def test_bytes_held_per_peer_are_capped(certs: Path) -> None:
    for box in _mailbox(certs, max_partials_per_peer=100, max_partial_bytes_per_peer=5 << 20):
        chunk = b"\0" * CHUNK_BYTES
        assert [box.send(f"t/{i}", chunk) for i in range(3)] == [
            grpc.StatusCode.OK, grpc.StatusCode.OK, grpc.StatusCode.RESOURCE_EXHAUSTED,
        ]  # fmt: skip
        assert box.server.router.partial_bytes("insurer") == 2 * CHUNK_BYTES
        # a whole message still goes through, and the channel works as before
        box.peer.send("hospital", "t/ok", common_pb2.Ack(status="ok"))
        hub = box.server.router.jobs[JOB]
        raw = hub.take("insurer", "hospital", "t/ok", 5.0)
        assert common_pb2.Envelope.FromString(raw).topic == "t/ok"


def test_a_message_completed_from_its_chunks_is_delivered_whole(mailbox: Mailbox) -> None:
    payload = common_pb2.Ack(status="whole").SerializeToString()
    half = len(payload) // 2
    assert mailbox.send("t/w", payload[:half], 0, 2) == grpc.StatusCode.OK
    assert mailbox.send("t/w", payload[half:], 1, 2) == grpc.StatusCode.OK
    assert mailbox.server.router.partial_bytes() == 0
    raw = mailbox.server.router.jobs[JOB].take("insurer", "hospital", "t/w", 5.0)
    assert common_pb2.Ack.FromString(common_pb2.Envelope.FromString(raw).payload).status == "whole"
    assert mailbox.send("t/w", payload, 1, 2) == grpc.StatusCode.INVALID_ARGUMENT  # out of order


def test_unread_messages_are_capped_per_peer(certs: Path) -> None:
    """A peer inside a job cannot queue unbounded data on topics the job never reads."""
    for box in _mailbox(certs, max_queued_bytes_per_peer=20_000):
        payload = b"q" * 1000
        codes = [box.send(f"t/{i}", payload, 0, 1) for i in range(30)]
        ok = codes.count(grpc.StatusCode.OK)
        assert 5 < ok < 20 and codes[ok:] == [grpc.StatusCode.RESOURCE_EXHAUSTED] * (30 - ok)
        hub = box.server.router.jobs[JOB]
        assert hub.queued_bytes("insurer") <= 20_000
        hub.take("insurer", "hospital", "t/0", 1.0)  # reading frees room for the next message
        assert box.send("t/more", payload, 0, 1) == grpc.StatusCode.OK


def test_a_configured_peer_outside_the_job_cannot_deliver_into_it() -> None:
    router = Router("hospital", {"insurer", "pharma"}, GrpcSettings())
    router.jobs[JOB] = MemoryHub(["insurer", "hospital"], JOB)
    env = common_pb2.Envelope(
        job_id=JOB, sender="pharma", receiver="hospital", topic="t/1", type="vfl.v1.Ack", chunks=1
    )
    with pytest.raises(Refused, match="not a party of job") as e:
        router._deliver(env, ["pharma"])
    assert e.value.code == grpc.StatusCode.PERMISSION_DENIED
    env.sender = "insurer"
    assert router._deliver(env, ["insurer"]).status == "ok"
