"""Liveness per job with real `vfl serve` processes (issue 18): a label holder that opened a job
and vanished, then came back on the same port with the same job, does not leave the serving
parties in the dead run: the old run ends at every party, naming the label holder, and the new
run is served. A passive's call left over from the old run reaches the new label holder, and is
refused as stale, not mistaken for a restart of that passive."""

from __future__ import annotations

import time
from pathlib import Path

from tests.runtime.test_serve import FAST, _events, _federation, _serve_processes
from vfl.runtime.job.handshake import propose
from vfl.runtime.job.jobfile import load_job, load_party_config
from vfl.runtime.modes.party import run_as
from vfl.transport.grpc import GrpcChannel
from vfl.transport.tls import party_files

LIVENESS = [  # vfl serve with the tests' short liveness deadlines
    f"--connect-timeout={FAST.connect_timeout}",
    f"--ping-every={FAST.ping_every}",
    f"--dead-after={FAST.dead_after}",
]


def test_a_label_holder_that_restarts_the_job_is_served_afresh(
    three_party_breast: dict[str, Path], tmp_path: Path
) -> None:
    job = _federation(three_party_breast, tmp_path)
    procs, logs = _serve_processes(job, tmp_path, *LIVENESS)
    try:
        deadline = time.monotonic() + 60
        while (
            not all('"serving"' in log.read_text() for log in logs.values()) and time.monotonic() < deadline
        ):
            time.sleep(0.2)
        cfg = load_party_config(job.parent / "insurer.toml")
        spec = load_job(job).spec_for(cfg)
        first = GrpcChannel(
            cfg.name, cfg.listen, dict(cfg.peers), spec.job_id, party_files(cfg.cert_dir, cfg.name),
            settings=FAST, proposer=cfg.name,
        )  # fmt: skip
        propose(first, spec)  # both passives accepted and started; then the label holder is gone
        first.close()
        t = time.monotonic()
        outcome = run_as(load_job(job), cfg, settings=FAST)  # the same job again, same port
        assert outcome.metrics["test_auc"] > 0.9
        for n, p in procs.items():
            assert p.wait(60) == 0
            events = _events(logs[n])
            failed = [e for e in events if e["event"] == "job_failed"]
            assert len(failed) == 1 and "insurer" in str(failed[0]["msg"]), events
            assert [e["event"] for e in events].count("job_done") == 1
            assert not [e for e in events if e["event"] == "proposal_dropped"], events
        print(f"rerun served in {time.monotonic() - t:.1f} s")
    finally:
        for p in procs.values():
            p.kill()
            p.wait(10)
