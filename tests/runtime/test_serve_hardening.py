"""Issue 18: `vfl serve` survives anything a peer sends. A fake peer (the insurer's or pharma's
certificate, raw envelopes or the real insurer code with one message altered) sends the audit's
malformed proposals and in-job messages to a real serving hospital; the server stays up, logs
each refusal or failed job (one JSON line naming the peer), and then runs the next good job."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from google.protobuf.message import Message

from vfl.core.errors import VflError
from vfl.runtime.job.handshake import proposal_of, propose
from vfl.runtime.job.jobfile import PartyConfig, load_party_config
from vfl.runtime.job.run import run_party_job
from vfl.runtime.job.spec import JobSpec
from vfl.runtime.modes.config import build_simulation_config
from vfl.runtime.modes.party import read_own_table
from vfl.runtime.modes.processes import write_federation
from vfl.runtime.modes.serve import serve
from vfl.runtime.modes.simulate import job_spec
from vfl.transport.grpc import GrpcChannel, GrpcSettings
from vfl.transport.tls import party_files
from vfl.wire.v1 import common_pb2, he_pb2, job_pb2

FAST = GrpcSettings(connect_timeout=4.0, call_timeout=10.0, ping_every=0.3, dead_after=1.5)
WAIT_S = 60.0  # an upper bound for a log line to appear, never a measured duration


@dataclass
class Served:
    """A real serving hospital (a thread running ``serve``, or a ``vfl serve`` process) and its
    structured log."""

    fed: Path
    is_alive: Callable[[], bool]
    join: Callable[[float], object]
    lines: list[str]

    def cfg(self, name: str) -> PartyConfig:
        return load_party_config(self.fed / f"{name}.toml")

    def events(self, name: str | None = None) -> list[dict[str, object]]:
        recs = [json.loads(line) for line in list(self.lines)]
        return [r for r in recs if name is None or r["event"] == name]

    def wait_for(self, name: str, count: int) -> list[dict[str, object]]:
        deadline = time.monotonic() + WAIT_S
        while len(self.events(name)) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        got = self.events(name)
        assert len(got) >= count, f"expected {count} {name!r} events, log: {self.lines}"
        return got


def _federation(three_party_breast: dict[str, Path], tmp_path: Path) -> Path:
    """insurer, hospital and pharma; pharma is a configured peer of the hospital that may not
    propose. Returns the hospital's config."""
    cfg = build_simulation_config(
        tuple(f"{n}={p}" for n, p in three_party_breast.items()),
        "pid",
        "insurer:y",
        model="lr",
        he="ou",
        out_dir=tmp_path / "out",
        model_params={"epochs": 1},
    )
    job = write_federation(cfg, job_spec(cfg, "job-serve"), tmp_path / "fed", tmp_path / "out")
    hospital = job.parent / "hospital.toml"
    hospital.write_text(hospital.read_text() + '\n[serve]\naccept_from = ["insurer"]\n')
    return hospital


@pytest.fixture
def served(three_party_breast: dict[str, Path], tmp_path: Path) -> Iterator[Served]:
    hospital = _federation(three_party_breast, tmp_path)
    lines: list[str] = []
    t = threading.Thread(
        target=serve,
        args=(load_party_config(hospital),),
        kwargs={"max_jobs": 1, "idle_timeout": 120, "settings": FAST, "log": lines.append},
        daemon=True,
    )
    t.start()
    s = Served(hospital.parent, t.is_alive, t.join, lines)
    s.wait_for("serving", 1)
    yield s
    t.join(5)


# -- the fake peer -------------------------------------------------------------------------------
def _raw_deliver(s: Served, as_party: str, data: bytes) -> grpc.StatusCode:
    """Deliver raw bytes (not necessarily an Envelope) to the hospital with ``as_party``'s cert."""
    ca, cert, key = party_files(s.cfg(as_party).cert_dir, as_party).read()
    creds = grpc.ssl_channel_credentials(root_certificates=ca, private_key=key, certificate_chain=cert)
    addr = s.cfg("insurer").peers["hospital"]
    with grpc.secure_channel(addr, creds, options=[("grpc.ssl_target_name_override", "hospital")]) as ch:
        call = ch.unary_unary(
            "/vfl.v1.Mailbox/Deliver",
            request_serializer=lambda b: b,
            response_deserializer=common_pb2.Ack.FromString,
        )
        try:
            call(data, timeout=10)
        except grpc.RpcError as exc:
            return exc.code()  # type: ignore[attr-defined, no-any-return]
    return grpc.StatusCode.OK


def _proposal_envelope(sender: str, job_id: str, payload: bytes) -> bytes:
    env = common_pb2.Envelope(
        job_id=job_id,
        sender=sender,
        receiver="hospital",
        topic="job/propose",
        type="vfl.v1.JobProposal",
        payload=payload,
        chunk=0,
        chunks=1,
    )
    return env.SerializeToString()


def _spec(job_id: str, model: str = "lr", **params: object) -> JobSpec:
    return JobSpec.create(
        job_id=job_id,
        parties=["insurer", "hospital"],
        active="insurer",
        model=model,
        he="ou",
        model_params=dict(params) or {"epochs": 1},
    )


class TamperingChannel(GrpcChannel):
    """The insurer's real channel, except that ``tamper`` may alter each message it sends
    (it returns True once it altered one; later messages travel untouched)."""

    def __init__(self, *args: object, tamper: Callable[[Message], bool] | None = None, **kw: object):
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        self._tamper, self.tampered = tamper, False

    def send(self, peer: str, topic: str, msg: Message) -> None:
        if self._tamper is not None and not self.tampered:
            copy = type(msg)()
            copy.CopyFrom(msg)
            if self._tamper(copy):
                self.tampered, msg = True, copy
        super().send(peer, topic, msg)


def _insurer_channel(
    s: Served, job_id: str, tamper: Callable[[Message], bool] | None = None
) -> TamperingChannel:
    ins = s.cfg("insurer")
    return TamperingChannel(
        "insurer",
        ins.listen,
        {"hospital": ins.peers["hospital"]},
        job_id,
        party_files(ins.cert_dir, "insurer"),
        timeout=5.0,
        settings=FAST,
        tamper=tamper,
    )


def _all(msg: Message, kind: type[Message]) -> Iterator[Message]:
    """Every ``kind`` submessage of ``msg`` (itself included), depth first."""
    if isinstance(msg, kind):
        yield msg
    for fd, value in msg.ListFields():
        if fd.type == fd.TYPE_MESSAGE:
            for v in [value] if isinstance(value, Message) else list(value):
                yield from _all(v, kind)


def _ndarray_bomb(msg: Message) -> bool:
    for arr in _all(msg, common_pb2.NDArray):
        del arr.shape[:]
        arr.shape.extend([0, 2**63])
        arr.data = b""
        return True
    return False


def _zero_slot_bits(msg: Message) -> bool:
    for batch in _all(msg, he_pb2.CipherBatch):
        if batch.kind == "gh":  # type: ignore[attr-defined]
            batch.slot_bits = 0  # type: ignore[attr-defined]
            return True
    return False


def _huge_public_key(msg: Message) -> bool:
    for ctx in _all(msg, he_pb2.PublicContext):
        ctx.public_key = bytes(70_000)  # type: ignore[attr-defined]
        return True
    return False


def _run_good_job(s: Served) -> None:
    spec = _spec("job-good")
    ch = _insurer_channel(s, spec.job_id)
    try:
        outcome = run_party_job(spec, read_own_table(s.cfg("insurer")), ch)
    finally:
        ch.close()
    assert outcome.metrics["test_auc"] > 0.9
    s.join(WAIT_S)
    assert not s.is_alive(), "the hospital should stop after its one good job"
    assert (s.cfg("hospital").out_dir / "job-good" / "hospital" / "model.json").is_file()
    assert [e["job"] for e in s.events("job_done")] == ["job-good"]


# -- the audit's malformed proposals -------------------------------------------------------------
def test_malformed_proposals_are_refused_logged_and_the_next_job_runs(served: Served) -> None:
    s = served
    # undecodable bytes, and an envelope whose job id is not an id: refused by the mailbox itself
    assert _raw_deliver(s, "insurer", b"\xff\xff garbage") == grpc.StatusCode.INVALID_ARGUMENT
    assert _raw_deliver(s, "insurer", _proposal_envelope("insurer", "bad id!", b"")) == (
        grpc.StatusCode.INVALID_ARGUMENT
    )
    refused = s.wait_for("delivery_refused", 2)
    assert refused[0]["code"] == "INVALID_ARGUMENT" and refused[0]["cn"] == "insurer"
    assert refused[1]["peer"] == "insurer" and refused[1]["job"] == "bad id!"

    good = proposal_of(_spec("job-x"))
    deep = job_pb2.JobProposal()
    deep.CopyFrom(good)
    deep.params_json = "[" * 50_000  # parsed depth first: RecursionError before the end
    nan = job_pb2.JobProposal()
    nan.CopyFrom(good)
    nan.test_size = math.nan
    other_id = job_pb2.JobProposal()
    other_id.CopyFrom(good)
    other_id.job_id = "bad id!"
    cases = [
        ("insurer", b"\x0a\xff\xff\xff garbage"),  # DecodeError
        ("pharma", b"\x0a\xff\xff\xff garbage"),  # a configured peer that may not propose
        ("insurer", deep.SerializeToString()),  # RecursionError before
        ("insurer", nan.SerializeToString()),
        ("insurer", other_id.SerializeToString()),
    ]
    for sender, payload in cases:
        data = _proposal_envelope(sender, "job-x", payload)
        assert _raw_deliver(s, sender, data) == grpc.StatusCode.OK  # queued for the server
    got = s.wait_for("proposal_refused", len(cases))
    assert [e["peer"] for e in got] == [c[0] for c in cases]
    assert all(e["error"] in ("WireError", "ProtocolError") for e in got), got
    assert "undecodable" in str(got[0]["msg"]) and "parameters" in str(got[2]["msg"])
    assert "test_size" in str(got[3]["msg"]) and "bad id!" in str(got[4]["msg"])
    assert s.is_alive()
    _run_good_job(s)


# -- hostile messages inside an accepted job -----------------------------------------------------
def _wait_failed(s: Served, count: int) -> dict[str, object]:
    return s.wait_for("job_failed", count)[count - 1]


def test_hostile_in_job_messages_fail_that_job_and_the_next_job_runs(served: Served) -> None:
    s = served
    table = read_own_table(s.cfg("insurer"))

    # [params] epochs = "x": the hospital accepts (its policy does not read params), then fails
    bad = _spec("job-epochs", epochs="x")
    ch = _insurer_channel(s, bad.job_id)
    try:
        propose(ch, bad)
    finally:
        ch.close()
    failed = _wait_failed(s, 1)
    assert failed["job"] == "job-epochs" and failed["peer"] == "insurer"
    assert "epochs" in str(failed["msg"])

    # the real insurer, with one message altered on its way to the hospital
    cases = [
        ("job-ndarray", _spec("job-ndarray"), _ndarray_bomb, "axis"),
        (
            "job-slots",
            _spec("job-slots", model="sbt", n_estimators=1, max_depth=2),
            _zero_slot_bits,
            "unusable layout",
        ),
        ("job-pk", _spec("job-pk"), _huge_public_key, "too large"),
    ]
    for i, (job_id, spec, tamper, words) in enumerate(cases, start=2):
        ch = _insurer_channel(s, job_id, tamper)
        with pytest.raises(VflError):
            try:
                run_party_job(spec, table, ch)
            finally:
                ch.close()
        assert ch.tampered, f"{job_id}: the fake peer never sent the message it meant to alter"
        failed = _wait_failed(s, i)
        assert failed["job"] == job_id and failed["peer"] == "insurer"
        assert words in str(failed["msg"]), failed
        assert s.is_alive()
    assert [e["job"] for e in s.events("job_started")] == ["job-epochs", "job-ndarray", "job-slots", "job-pk"]
    _run_good_job(s)


# -- the same against the `vfl serve` command, in its own process ----------------------------------
def test_the_vfl_serve_process_survives_garbage_and_runs_the_next_job(
    three_party_breast: dict[str, Path], tmp_path: Path
) -> None:
    hospital = _federation(three_party_breast, tmp_path)
    cmd = [
        sys.executable,
        "-m",
        "vfl",
        "serve",
        "--config",
        str(hospital),
        "--max-jobs",
        "1",
        "--idle-timeout",
        "120",
    ]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines: list[str] = []
    others: list[str] = []

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            (lines if line.startswith("{") else others).append(line.strip())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    s = Served(hospital.parent, lambda: proc.poll() is None, lambda t: proc.wait(t), lines)
    try:
        s.wait_for("serving", 1)
        assert _raw_deliver(s, "insurer", b"\x0a\xff\xff\xff") == grpc.StatusCode.INVALID_ARGUMENT
        garbage = _proposal_envelope("insurer", "job-x", b"\x0a\xff\xff\xff garbage")
        assert _raw_deliver(s, "insurer", garbage) == grpc.StatusCode.OK
        assert s.wait_for("proposal_refused", 1)[0]["peer"] == "insurer"
        assert s.wait_for("delivery_refused", 1)[0]["code"] == "INVALID_ARGUMENT"
        _run_good_job(s)
        assert proc.returncode == 0, others
    finally:
        proc.kill()
        proc.wait(10)
        reader.join(10)
        assert proc.stderr is not None
        proc.stderr.close()
