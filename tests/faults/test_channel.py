"""The faulty channel itself: which messages a rule selects, what each fault does to them, that
its random choices replay from the seed, and that it wraps the gRPC transport as well."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from vfl.core.errors import ConfigError, PeerError, WireError
from vfl.transport.channel import Channel
from vfl.transport.faults import Fault, FaultPlan, FaultyChannel, PartyStopped
from vfl.transport.grpc import GrpcChannel, GrpcSettings
from vfl.transport.memory import MemoryHub
from vfl.transport.scoped import ScopedChannel
from vfl.transport.tls import init_ca, issue_party_cert, party_files
from vfl.wire.v1 import common_pb2

PARTIES = ["insurer", "hospital", "pharma"]


class Sink(Channel):
    """A transport that keeps what it is handed, in order."""

    def __init__(self, me: str) -> None:
        super().__init__(me, PARTIES, "job-sink")
        self.sent: list[common_pb2.Envelope] = []

    def _deliver(self, peer: str, topic: str, env: common_pb2.Envelope) -> None:
        self.sent.append(env)

    def _collect(self, peer: str, topic: str, timeout: float) -> common_pb2.Envelope:
        raise PeerError(f"{peer} sent nothing")


def _send(ch: Channel, *messages: tuple[str, str, str]) -> None:
    for peer, topic, text in messages:
        ch.send(peer, topic, common_pb2.Ack(status=text))


def test_a_rule_selects_by_party_peer_topic_and_nth() -> None:
    plan = FaultPlan.of(
        {"kind": "drop", "party": "hospital", "peer": "pharma", "topic": "psi/a/*|psi/b", "nth": 2}
    )
    mine, theirs = Sink("hospital"), Sink("insurer")
    ch, other = FaultyChannel(mine, plan), FaultyChannel(theirs, plan)
    _send(ch, ("pharma", "psi/a/1", "1"), ("insurer", "psi/a/2", "x"), ("pharma", "psi/c", "y"))
    _send(ch, ("pharma", "psi/b", "2"), ("pharma", "psi/a/3", "3"))
    _send(other, ("pharma", "psi/a/1", "1"), ("pharma", "psi/b", "2"))  # another party: no rule
    assert [e.topic for e in mine.sent] == ["psi/a/1", "psi/a/2", "psi/c", "psi/a/3"]
    assert [e.topic for e in theirs.sent] == ["psi/a/1", "psi/b"]
    assert [(f.kind, f.party, f.peer, f.topic) for f in plan.fired] == [
        ("drop", "hospital", "pharma", "psi/b")
    ]
    assert ch.stats.messages_sent == {"pharma": 4, "insurer": 1}  # what the party handed over


def test_every_match_with_nth_zero_and_duplicates_go_twice() -> None:
    sink = Sink("hospital")
    ch = FaultyChannel(sink, FaultPlan.of(Fault("duplicate", topic="t/*", nth=0)))
    _send(ch, ("insurer", "t/1", "a"), ("insurer", "u/1", "b"), ("insurer", "t/2", "c"))
    assert [e.topic for e in sink.sent] == ["t/1", "t/1", "u/1", "t/2", "t/2"]


def test_reorder_holds_a_message_behind_the_next_to_the_same_peer_or_until_a_receive() -> None:
    sink = Sink("hospital")
    ch = FaultyChannel(sink, FaultPlan.of(Fault("reorder", topic="t/1"), Fault("reorder", topic="t/3")))
    _send(ch, ("insurer", "t/1", "a"), ("pharma", "t/2", "b"), ("insurer", "t/4", "c"))
    assert [e.topic for e in sink.sent] == ["t/2", "t/4", "t/1"]
    _send(ch, ("insurer", "t/3", "d"))
    assert len(sink.sent) == 3  # held; a party that waits must not sit on it forever
    with pytest.raises(PeerError):
        ch.recv("insurer", "t/9", common_pb2.Ack, timeout=0.01)
    assert [e.topic for e in sink.sent][-1] == "t/3"


@pytest.mark.parametrize("kind", ["corrupt", "truncate"])
def test_damage_replays_from_the_seed_and_differs_between_seeds(kind: str) -> None:
    def damaged(seed: int) -> bytes:
        sink = Sink("hospital")
        ch = FaultyChannel(sink, FaultPlan.of(Fault(kind, topic="t", flips=3), seed=seed))
        _send(ch, ("insurer", "t", "a fairly long status text to damage"))
        return sink.sent[0].payload

    clean = common_pb2.Ack(status="a fairly long status text to damage").SerializeToString()
    assert damaged(1) == damaged(1) != clean
    assert len({damaged(s) for s in range(6)}) > 1
    if kind == "corrupt":
        assert len(damaged(1)) == len(clean)
        assert sum(a != b for a, b in zip(damaged(1), clean, strict=True)) == 3
    else:
        assert clean.startswith(damaged(1)) and len(damaged(1)) < len(clean)


def test_stops_raise_or_hang_and_then_carry_on() -> None:
    plan = FaultPlan.of(
        Fault("raise", topic="t/1"), Fault("hang", topic="t/2", on="recv", seconds=0.05), seed=0
    )
    hub = MemoryHub(PARTIES, "job-stop", timeout=1.0)
    ch = FaultyChannel(hub.channel("hospital"), plan)
    with pytest.raises(PartyStopped, match=r"hospital stopped .* before send of 't/1' with insurer"):
        _send(ch, ("insurer", "t/1", "a"))
    FaultyChannel(hub.channel("insurer"), plan).send("hospital", "t/2", common_pb2.Ack(status="late"))
    assert ch.recv("insurer", "t/2", common_pb2.Ack).status == "late"  # after the hang
    assert [f.kind for f in plan.fired] == ["raise", "hang"] and plan.hanging == set()


def test_a_scope_puts_every_topic_under_it_and_leaves_the_inner_channel_open() -> None:
    hub = MemoryHub(PARTIES, "job-scope", timeout=1.0)
    a = ScopedChannel(hub.channel("insurer"), "score/test")
    b = hub.channel("hospital")
    a.send("hospital", "lr/predict/score", common_pb2.Ack(status="s"))
    assert b.recv("insurer", "score/test/lr/predict/score", common_pb2.Ack).status == "s"
    b.send("insurer", "score/test/x", common_pb2.Ack(status="back"))
    assert a.recv("hospital", "x", common_pb2.Ack).status == "back"
    assert a.stats is a.inner.stats and a.stats.messages_sent == {"hospital": 1}


def test_bad_rules_are_refused() -> None:
    with pytest.raises(ConfigError, match="unknown fault kind 'explode'"):
        Fault("explode")
    with pytest.raises(ConfigError, match="cannot act on 'recv'"):
        Fault("drop", on="recv")
    with pytest.raises(ConfigError, match="unknown fault fields"):
        FaultPlan.of({"kind": "drop", "topics": "x"})
    plan = FaultPlan.of({"kind": "delay", "seconds": 0.5})
    assert FaultPlan.of(*plan.to_dicts()).faults == plan.faults


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_it_wraps_the_grpc_transport_and_the_receiver_refuses_what_it_damaged(tmp_path: Path) -> None:
    init_ca(tmp_path)
    for n in ("insurer", "hospital"):
        issue_party_cert(tmp_path, n)
    ports = {n: f"127.0.0.1:{_free_port()}" for n in ("insurer", "hospital")}
    fast = GrpcSettings(connect_timeout=5.0, call_timeout=5.0, ping_every=0.3, dead_after=1.0)

    def channel(me: str, peer: str) -> GrpcChannel:
        return GrpcChannel(
            me, ports[me], {peer: ports[peer]}, "job-g", party_files(tmp_path, me), settings=fast
        )

    # seed 1 cuts inside the data field (a cut at a field boundary can still parse)
    plan = FaultPlan.of(Fault("truncate", topic="t/cut"), Fault("duplicate", topic="t/two"), seed=1)
    a, b = FaultyChannel(channel("insurer", "hospital"), plan), channel("hospital", "insurer")
    try:
        a.send("hospital", "t/two", common_pb2.Ack(status="twice"))
        a.send("hospital", "t/cut", common_pb2.NDArray(dtype="<f8", shape=[2], data=b"\x00" * 16))
        assert [b.recv("insurer", "t/two", common_pb2.Ack, timeout=5).status for _ in range(2)] == [
            "twice"
        ] * 2
        with pytest.raises(WireError, match=r"insurer sent a malformed vfl\.v1\.NDArray on 't/cut'"):
            b.recv("insurer", "t/cut", common_pb2.NDArray, timeout=5)
    finally:
        a.close()
        b.close()


def test_kill_is_a_sigkill_of_the_party_process() -> None:
    code = (
        "from vfl.transport.faults import Fault, FaultPlan, FaultyChannel\n"
        "from vfl.transport.memory import MemoryHub\n"
        "from vfl.wire.v1 import common_pb2\n"
        "hub = MemoryHub(['insurer', 'hospital'], 'job-kill')\n"
        "ch = FaultyChannel(hub.channel('hospital'), FaultPlan.of(Fault('kill', topic='lr/*')))\n"
        "ch.send('insurer', 'psi/1', common_pb2.Ack())\n"
        "print('before', flush=True)\n"
        "ch.send('insurer', 'lr/e1/b0/score', common_pb2.Ack())\n"
        "print('after', flush=True)\n"
    )
    root = Path(__file__).resolve().parents[2]
    p = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60)
    assert p.returncode == -signal.SIGKILL and p.stdout == "before\n", (p.returncode, p.stdout, p.stderr)
