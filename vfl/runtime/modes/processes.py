"""``vfl simulate --transport grpc``: the parties as separate ``vfl run`` processes on loopback,
with a throw-away federation CA, talking gRPC over mutual TLS exactly as in a deployment."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from vfl.core.errors import PeerError
from vfl.runtime.job.spec import JobSpec
from vfl.runtime.modes.config import SimulationConfig
from vfl.transport.tls import init_ca, issue_party_cert

__all__ = ["free_ports", "run_as_processes", "write_federation"]


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


def _toml_value(v: Any) -> str:
    return json.dumps(v) if not isinstance(v, bool) else ("true" if v else "false")


def write_federation(cfg: SimulationConfig, spec: JobSpec, root: Path, out_dir: Path) -> Path:
    """Certificates, one party config per party and the job file, under ``root``."""
    certs = root / "certs"
    init_ca(certs)
    ports = dict(zip(spec.order, free_ports(len(spec.order)), strict=True))
    for p in cfg.parties:
        issue_party_cert(certs, p.name)
        lines = [
            "[party]",
            f"name = {_toml_value(p.name)}",
            f'listen = "127.0.0.1:{ports[p.name]}"',
            'certs = "certs"',
            f"out = {_toml_value(str(out_dir.resolve()))}",
            "",
            "[data]",
            f"path = {_toml_value(str(Path(p.path).resolve()))}",
            f"id_column = {_toml_value(cfg.id_column)}",
            f"nan = {_toml_value(cfg.nan_policy)}",
            f"id_case = {_toml_value(cfg.id_rule.case)}",
            f"id_strip = {_toml_value(cfg.id_rule.strip)}",
        ]
        if p.label_column:
            lines.append(f"label_column = {_toml_value(p.label_column)}")
        if p.offset_column:
            lines.append(f"offset_column = {_toml_value(p.offset_column)}")
        lines += ["", "[peers]"]
        lines += [f'{q} = "127.0.0.1:{ports[q]}"' for q in spec.order if q != p.name]
        (root / f"{p.name}.toml").write_text("\n".join(lines) + "\n")
    job = [
        "[job]",
        f"id = {_toml_value(spec.job_id)}",
        f"parties = {_toml_value(list(spec.order))}",
        f"model = {_toml_value(spec.model)}",
        f"he = {_toml_value(spec.he)}",
        f"test_size = {spec.test_size}",
        f"seed = {spec.seed}",
        f"device = {_toml_value(spec.device)}",
    ]
    if spec.active:
        job.append(f"active = {_toml_value(spec.active)}")
    if spec.model_params:
        job += ["", "[params]"] + [f"{k} = {_toml_value(v)}" for k, v in spec.model_params.items()]
    (root / "job.toml").write_text("\n".join(job) + "\n")
    return root / "job.toml"


def _pin(cpu: int) -> Any:
    def pin() -> None:
        os.sched_setaffinity(0, {cpu})

    return pin


def run_as_processes(
    job_path: Path,
    parties: list[str],
    out_dir: Path,
    timeout: float = 3600,
    cpus: dict[str, int] | None = None,
) -> dict[str, dict[str, Any]]:
    """Start one ``python -m vfl run`` per party; return each party's result.json. ``cpus``:
    pin a party's process to one core (and heu to one thread), as separate machines would run."""
    root = job_path.parent
    procs: dict[str, subprocess.Popen[bytes]] = {}
    logs = {}
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for name in parties:
        logs[name] = open(root / f"{name}.log", "wb")
        procs[name] = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "vfl",
                "run",
                str(job_path),
                "--as",
                name,
                "--quiet",
                "--audit-wire",
                str(root / f"{name}.wire.jsonl"),
            ],
            stdout=logs[name],
            stderr=subprocess.STDOUT,
            env=env if cpus is None or name not in cpus else {**env, "YACL_NUM_THREADS": "1"},
            preexec_fn=None if cpus is None or name not in cpus else _pin(cpus[name]),
        )
    deadline = time.monotonic() + timeout
    failed: list[str] = []
    try:
        while any(p.poll() is None for p in procs.values()):
            failed = [n for n, p in procs.items() if p.returncode not in (None, 0)]
            if failed or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        failed = [n for n, p in procs.items() if p.returncode not in (None, 0)]
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.terminate()
        for p in procs.values():
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        for f in logs.values():
            f.close()
    if failed or any(p.returncode != 0 for p in procs.values()):
        name = failed[0] if failed else next(n for n, p in procs.items() if p.returncode != 0)
        tail = (root / f"{name}.log").read_text(errors="replace").strip().splitlines()[-6:]
        raise PeerError(
            f"party process {name} failed:\n    " + "\n    ".join(tail), f"full log: {root / name}.log"
        )
    return {name: json.loads((out_dir / name / "result.json").read_text()) for name in parties}
