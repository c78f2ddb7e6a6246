"""One contract, every transport (issue 14): the in-memory channel and gRPC over mutual TLS on
loopback pass the same suite, so protocol code can rely on the Channel, not on a transport.

The contract: messages keep their order within a topic; topics never mix; a missing message is
a PeerError naming the topic within the timeout; a message of another job, of another type or
over the size limit is a WireError and the channel keeps working; a late message (after a
receive timed out) or a duplicate is delivered to the next receive of its own topic, in order,
never to another topic.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from vfl.core.errors import PeerError, WireError
from vfl.transport.channel import Channel
from vfl.transport.grpc import GrpcChannel, GrpcSettings
from vfl.transport.memory import MemoryHub
from vfl.transport.tls import init_ca, issue_party_cert, party_files
from vfl.wire.arrays import from_ndarray, to_ndarray
from vfl.wire.v1 import common_pb2, psi_pb2

JOB = "job-conf"
LIMIT = 1 << 20  # a small size limit, so that the over-limit case stays cheap
FAST = GrpcSettings(
    connect_timeout=3.0, call_timeout=5.0, ping_every=0.2, dead_after=1.0, max_message_bytes=LIMIT
)


@dataclass
class Pair:
    """Two parties' channels of one job, and how to send them a message of another job."""

    a: Channel
    b: Channel
    foreign: Callable[[str], None]  # a -> b on topic, but bound to another job


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


def _memory() -> Iterator[Pair]:
    hub = MemoryHub(["insurer", "hospital"], JOB, max_message_bytes=LIMIT)
    other = MemoryHub(["insurer", "hospital"], "job-other")
    other._boxes, other._cond = hub._boxes, hub._cond  # a stale sender writing into our mailbox

    def foreign(topic: str) -> None:
        other.channel("insurer").send("hospital", topic, common_pb2.Ack(status="stale"))
        hub.channel("hospital").recv("insurer", topic, common_pb2.Ack, timeout=1)

    yield Pair(hub.channel("insurer"), hub.channel("hospital"), foreign)


def _grpc(certs: Path) -> Iterator[Pair]:
    pa, pb = _port(), _port()
    a = GrpcChannel(
        "insurer",
        f"127.0.0.1:{pa}",
        {"hospital": f"127.0.0.1:{pb}"},
        JOB,
        party_files(certs, "insurer"),
        settings=FAST,
    )
    b = GrpcChannel(
        "hospital",
        f"127.0.0.1:{pb}",
        {"insurer": f"127.0.0.1:{pa}"},
        JOB,
        party_files(certs, "hospital"),
        settings=FAST,
    )

    def foreign(topic: str) -> None:
        env = common_pb2.Envelope(
            job_id="job-other",
            sender="insurer",
            receiver="hospital",
            topic=topic,
            type="vfl.v1.Ack",
            payload=common_pb2.Ack(status="stale").SerializeToString(),
            chunks=1,
        )
        a._call("hospital", env)  # the hospital's mailbox refuses it: FAILED_PRECONDITION

    try:
        yield Pair(a, b, foreign)
    finally:
        a.close()
        b.close()


@pytest.fixture(params=["memory", "grpc"])
def pair(request: pytest.FixtureRequest, certs: Path) -> Iterator[Pair]:
    yield from (_memory() if request.param == "memory" else _grpc(certs))


def _ack(status: str) -> common_pb2.Ack:
    return common_pb2.Ack(status=status)


def test_order_is_kept_within_a_topic(pair: Pair) -> None:
    for i in range(6):
        pair.a.send("hospital", "t/seq", _ack(f"m{i}"))
    got = [pair.b.recv("insurer", "t/seq", common_pb2.Ack, timeout=5).status for _ in range(6)]
    assert got == [f"m{i}" for i in range(6)]


def test_topics_are_kept_apart(pair: Pair) -> None:
    pair.a.send("hospital", "sbt/tree1/hist", _ack("t1-a"))
    pair.a.send("hospital", "sbt/tree2/hist", _ack("t2"))
    pair.a.send("hospital", "sbt/tree1/hist", _ack("t1-b"))
    assert pair.b.recv("insurer", "sbt/tree2/hist", common_pb2.Ack, timeout=5).status == "t2"
    assert pair.b.recv("insurer", "sbt/tree1/hist", common_pb2.Ack, timeout=5).status == "t1-a"
    assert pair.b.recv("insurer", "sbt/tree1/hist", common_pb2.Ack, timeout=5).status == "t1-b"
    with pytest.raises(PeerError):  # nothing left over on either topic
        pair.b.recv("insurer", "sbt/tree2/hist", common_pb2.Ack, timeout=0.3)


def test_a_missing_message_is_a_clear_peer_error(pair: Pair) -> None:
    with pytest.raises(PeerError, match=r"did not send 't/missing'.*within") as e:
        pair.b.recv("insurer", "t/missing", common_pb2.Ack, timeout=0.4)
    assert "insurer" in str(e.value) and e.value.hint


def test_a_message_of_another_job_is_refused_and_ours_still_arrives(pair: Pair) -> None:
    with pytest.raises(WireError, match="job"):
        pair.foreign("t/job")
    pair.a.send("hospital", "t/job", _ack("ours"))
    assert pair.b.recv("insurer", "t/job", common_pb2.Ack, timeout=5).status == "ours"


def test_a_message_of_another_type_is_refused(pair: Pair) -> None:
    pair.a.send("hospital", "t/type", _ack("x"))
    with pytest.raises(WireError, match=r"expected vfl\.v1\.PointBatch"):
        pair.b.recv("insurer", "t/type", psi_pb2.PointBatch, timeout=5)


def test_size_limit_refuses_and_the_channel_keeps_working(pair: Pair) -> None:
    with pytest.raises(WireError, match="limit"):
        pair.a.send("hospital", "t/big", to_ndarray(np.zeros(LIMIT // 8 + 16)))
    small = np.arange(1000.0)  # under the limit, and several gRPC chunks would not be needed
    pair.a.send("hospital", "t/big", to_ndarray(small))
    got = from_ndarray(pair.b.recv("insurer", "t/big", common_pb2.NDArray, timeout=5))
    np.testing.assert_array_equal(got, small)


def test_a_late_message_goes_to_the_next_receive_of_its_topic(pair: Pair) -> None:
    with pytest.raises(PeerError):
        pair.b.recv("insurer", "t/late", common_pb2.Ack, timeout=0.3)
    pair.a.send("hospital", "t/late", _ack("late"))
    pair.a.send("hospital", "t/other", _ack("other"))
    assert pair.b.recv("insurer", "t/other", common_pb2.Ack, timeout=5).status == "other"
    assert pair.b.recv("insurer", "t/late", common_pb2.Ack, timeout=5).status == "late"


def test_a_duplicate_is_delivered_once_more_in_order_never_elsewhere(pair: Pair) -> None:
    msg = _ack("dup")
    pair.a.send("hospital", "t/dup", msg)
    pair.a.send("hospital", "t/dup", msg)
    pair.a.send("hospital", "t/dup", _ack("next"))
    got = [pair.b.recv("insurer", "t/dup", common_pb2.Ack, timeout=5).status for _ in range(3)]
    assert got == ["dup", "dup", "next"]
    with pytest.raises(PeerError):
        pair.b.recv("insurer", "t/dup2", common_pb2.Ack, timeout=0.3)


def test_unknown_peer_and_malformed_topic_are_refused_before_sending(pair: Pair) -> None:
    with pytest.raises(WireError, match="not a peer"):
        pair.a.send("pharma", "t/1", _ack("x"))
    with pytest.raises(WireError, match="malformed"):
        pair.a.send("hospital", "../etc", _ack("x"))
    assert pair.a.stats.messages_sent.get("hospital", 0) == 0


def test_bytes_sent_count_the_payload(pair: Pair) -> None:
    pair.a.send("hospital", "t/bytes", _ack("hello"))
    assert pair.a.stats.bytes_sent["hospital"] == len(_ack("hello").SerializeToString())
    assert pair.b.recv("insurer", "t/bytes", common_pb2.Ack, timeout=5).status == "hello"
