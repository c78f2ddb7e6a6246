"""Issue 18's memory check: a real `vfl serve` keeps its RSS flat under bad requests.

Starts `vfl serve` for the hospital of a three-party federation (embedded data), measures its
RSS (/proc), sends N undecodable / wrong-job / bad-route / oversize-header requests with the
insurer's certificate and M chunked messages whose first chunk is never followed, waits for the
partial messages to expire, and measures again. Exits 1 if RSS grew by more than 10 %.

    .venv/bin/python scripts/serve_memory.py            # 10,000 bad requests, 1,000 abandoned
    .venv/bin/python scripts/serve_memory.py --bad 500 --abandoned 50   # a quick look
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc

from vfl.data.datasets import default_dataset
from vfl.runtime.job.handshake import propose
from vfl.runtime.job.jobfile import load_party_config
from vfl.runtime.job.spec import JobSpec
from vfl.runtime.modes.config import build_simulation_config
from vfl.runtime.modes.processes import write_federation
from vfl.runtime.modes.simulate import job_spec
from vfl.transport.grpc import GrpcChannel
from vfl.transport.tls import party_files
from vfl.wire.v1 import common_pb2


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def _federation(tmp: Path) -> tuple[Path, JobSpec]:
    """The insurer and the hospital of the embedded data set: a two-party job."""
    ds = default_dataset()
    cfg = build_simulation_config(
        tuple(f"{n}={ds.paths[n]}" for n in ("insurer", "hospital")), "patient_id", "insurer:outcome",
        model="lr", he="ou", out_dir=tmp / "out",
    )  # fmt: skip
    spec = job_spec(cfg, "job-mem")
    job = write_federation(cfg, spec, tmp / "fed", tmp / "out")
    return job.parent, spec


def _open_job_at_hospital(fed: Path, spec: JobSpec) -> GrpcChannel:
    """The insurer proposes the job and then stays silent: the hospital holds it open (waiting
    in PSI, the insurer alive), so chunked messages for it are held as partial messages."""
    cfg = load_party_config(fed / "insurer.toml")
    ch = GrpcChannel(
        "insurer", cfg.listen, dict(cfg.peers), spec.job_id, party_files(cfg.cert_dir, "insurer")
    )
    propose(ch, spec)
    return ch


def _bad_requests(n: int, chunks: int, addr: str, fed: Path) -> dict[str, int]:
    """Send ``n`` bad requests (four kinds in turn) and ``chunks`` abandoned first chunks."""
    ca, cert, key = party_files(fed / "certs", "insurer").read()
    creds = grpc.ssl_channel_credentials(root_certificates=ca, private_key=key, certificate_chain=cert)
    codes: dict[str, int] = {}
    with grpc.secure_channel(addr, creds, options=[("grpc.ssl_target_name_override", "hospital")]) as ch:
        raw = ch.unary_unary("/vfl.v1.Mailbox/Deliver", request_serializer=lambda b: b,
                             response_deserializer=common_pb2.Ack.FromString)  # fmt: skip
        base = {"sender": "insurer", "receiver": "hospital", "type": "vfl.v1.Ack", "chunks": 1}
        kinds = [
            lambda i: b"\xff\xff\xff garbage %d" % i,  # undecodable
            lambda i: common_pb2.Envelope(**base, job_id=f"nojob-{i}", topic="t/x").SerializeToString(),
            lambda i: common_pb2.Envelope(**base, job_id="j", topic="t/x", chunk=5).SerializeToString(),
            lambda i: common_pb2.Envelope(**base, job_id="j", topic="T" * 5000).SerializeToString(),
        ]  # fmt: skip

        def call(data: bytes, meta: list[tuple[str, str]] | None = None) -> None:
            try:
                raw(data, timeout=10, metadata=meta)
                code = "OK"
            except grpc.RpcError as exc:
                code = exc.code().name  # type: ignore[attr-defined]
            codes[code] = codes.get(code, 0) + 1

        for i in range(n):
            meta = [("x-pad", "y" * 6000)] if i % 5 == 4 else None  # oversize headers now and then
            call(kinds[i % len(kinds)](i), meta)
        # abandoned chunked messages for the job the hospital holds open: a 64 KiB first chunk of a
        # 3-chunk message, never finished (held up to max_partials_per_peer, then refused, and
        # expired after partial_timeout)
        for i in range(chunks):
            env = common_pb2.Envelope(**{**base, "chunks": 3}, job_id="job-mem", topic=f"t/c{i}",
                                      payload=os.urandom(1 << 16), chunk=0)  # fmt: skip
            call(env.SerializeToString())
    return codes


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bad", type=int, default=10_000)
    ap.add_argument("--abandoned", type=int, default=1_000)
    ap.add_argument("--settle", type=float, default=5.0, help="seconds to wait before each measurement")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        fed, spec = _federation(Path(tmp))
        cfg_path = fed / "hospital.toml"
        addr = load_party_config(fed / "insurer.toml").peers["hospital"]
        log = Path(tmp) / "serve.log"  # a file, not a pipe: one log line per refusal would fill a pipe
        with open(log, "w") as sink:
            proc = subprocess.Popen(
                [sys.executable, "-m", "vfl", "serve", "--config", str(cfg_path)],
                stdout=subprocess.DEVNULL, stderr=sink,
            )  # fmt: skip
        try:
            deadline = time.monotonic() + 120
            while '"serving"' not in log.read_text() and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.2)
            if '"serving"' not in log.read_text():
                print(f"vfl serve did not start: {log.read_text()[-2000:]}", file=sys.stderr)
                return 2
            insurer = _open_job_at_hospital(fed, spec)
            _bad_requests(200, 20, addr, fed)  # warm up gRPC's pools before the baseline
            time.sleep(args.settle)
            before = _rss_mib(proc.pid)
            t = time.perf_counter()
            codes = _bad_requests(args.bad, args.abandoned, addr, fed)
            took = time.perf_counter() - t
            time.sleep(args.settle)
            after = _rss_mib(proc.pid)
            insurer.close()
            refused = log.read_text().count('"delivery_refused"')
        finally:
            proc.terminate()
            proc.wait(10)
    growth = (after - before) / before
    print(f"grpcio {grpc.__version__}; {args.bad} bad requests + {args.abandoned} abandoned chunked messages "
          f"in {took:.1f} s; status codes {codes}")  # fmt: skip
    print(f"the server logged {refused} refused deliveries")
    print(f"RSS before {before:.1f} MiB, after {after:.1f} MiB: {growth:+.1%} (limit +10 %)")
    return 0 if growth <= 0.10 else 1


if __name__ == "__main__":
    raise SystemExit(main())
