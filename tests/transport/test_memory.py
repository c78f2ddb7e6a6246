"""The in-memory channel enforces the wire rules that every transport must: job, route, type."""

from __future__ import annotations

import threading
import time

import pytest

from vfl.core.errors import PeerError, WireError
from vfl.transport.memory import MemoryHub
from vfl.wire.v1 import common_pb2, psi_pb2


def test_round_trip_and_byte_count() -> None:
    hub = MemoryHub(["a", "b"], "job-1")
    a, b = hub.channel("a"), hub.channel("b")
    a.send("b", "t/1", common_pb2.Ack(status="hello"))
    assert b.recv("a", "t/1", common_pb2.Ack).status == "hello"
    assert a.stats.bytes_sent["b"] == len(common_pb2.Ack(status="hello").SerializeToString())


def test_wrong_type_is_refused() -> None:
    hub = MemoryHub(["a", "b"], "job-1")
    hub.channel("a").send("b", "t/1", common_pb2.Ack(status="x"))
    with pytest.raises(WireError, match=r"expected vfl\.v1\.PointBatch"):
        hub.channel("b").recv("a", "t/1", psi_pb2.PointBatch)


def test_message_for_another_job_is_refused() -> None:
    hub = MemoryHub(["a", "b"], "job-1")
    other = MemoryHub(["a", "b"], "job-2")
    other._boxes = hub._boxes  # a stale sender from another job writes into our mailbox
    other._cond = hub._cond
    other.channel("a").send("b", "t/1", common_pb2.Ack(status="x"))
    with pytest.raises(WireError, match="job-2"):
        hub.channel("b").recv("a", "t/1", common_pb2.Ack)


def test_topics_keep_rounds_apart() -> None:
    hub = MemoryHub(["a", "b"], "job-1")
    a, b = hub.channel("a"), hub.channel("b")
    a.send("b", "lr/epoch1", common_pb2.Ack(status="one"))
    a.send("b", "lr/epoch0", common_pb2.Ack(status="zero"))
    assert b.recv("a", "lr/epoch0", common_pb2.Ack).status == "zero"
    assert b.recv("a", "lr/epoch1", common_pb2.Ack).status == "one"


def test_unknown_peer_and_bad_topic() -> None:
    a = MemoryHub(["a", "b"], "job-1").channel("a")
    with pytest.raises(WireError, match="not a peer"):
        a.send("c", "t", common_pb2.Ack())
    with pytest.raises(WireError, match="malformed"):
        a.send("b", "../etc", common_pb2.Ack())


def test_timeout_is_a_peer_error_within_the_deadline() -> None:
    b = MemoryHub(["a", "b"], "job-1").channel("b")
    t = time.perf_counter()
    with pytest.raises(PeerError, match=r"did not send 't/1'.*within"):
        b.recv("a", "t/1", common_pb2.Ack, timeout=0.2)
    assert time.perf_counter() - t < 2


def test_dead_peer_wakes_waiters_at_once() -> None:
    hub = MemoryHub(["a", "b"], "job-1")
    threading.Timer(0.1, hub.mark_dead, args=("a", "DataError: bad file")).start()
    t = time.perf_counter()
    with pytest.raises(PeerError, match="a stopped before sending"):
        hub.channel("b").recv("a", "t/1", common_pb2.Ack, timeout=30)
    assert time.perf_counter() - t < 5
