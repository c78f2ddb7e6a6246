"""What crossed gRPC between three real processes is exactly what the recording channel saw in
the in-memory run of the same job: the same routes, topics, message types and counts."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from vfl.runtime.job.run import run_party_job
from vfl.runtime.modes.config import build_simulation_config
from vfl.runtime.modes.local import run_in_memory
from vfl.runtime.modes.processes import run_as_processes, write_federation
from vfl.runtime.modes.simulate import job_spec, load_tables
from vfl.transport.recording import RecordedMessage


def test_grpc_wire_equals_in_memory_recording(three_party_breast: dict[str, Path], tmp_path: Path) -> None:
    data = tuple(f"{n}={p}" for n, p in three_party_breast.items())
    cfg = build_simulation_config(
        data,
        "pid",
        "insurer:y",
        model="sbt",
        he="ou",
        out_dir=tmp_path / "out",
        model_params={"n_estimators": 2},
    )
    spec = job_spec(cfg, "job-parity")
    tables = load_tables(cfg)
    log: list[RecordedMessage] = []
    run_in_memory(list(spec.order), spec.job_id, lambda n, ch: run_party_job(spec, tables[n], ch), record=log)
    memory = Counter((m.sender, m.receiver, m.topic, m.type) for m in log)

    job = write_federation(cfg, spec, tmp_path / "fed", tmp_path / "out")
    run_as_processes(job, list(spec.order), tmp_path / "out")
    wire: Counter[tuple[str, str, str, str]] = Counter()
    for name in spec.order:
        for line in (tmp_path / "fed" / f"{name}.wire.jsonl").read_text().splitlines():
            rec = json.loads(line)
            assert rec["receiver"] == name and rec["job_id"] == "job-parity"
            wire[(rec["sender"], rec["receiver"], rec["topic"], rec["type"])] += 1
    assert sum(memory.values()) > 50
    assert wire == memory
