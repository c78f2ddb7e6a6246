"""`vfl serve` accepts jobs its policy allows, refuses others, and failures stop a job with a
clear error, within its deadline, and with nothing half-written."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from vfl.core.errors import ConfigError, PeerError
from vfl.runtime.job.jobfile import load_job, load_party_config
from vfl.runtime.modes.config import build_simulation_config
from vfl.runtime.modes.party import run_as
from vfl.runtime.modes.processes import write_federation
from vfl.runtime.modes.serve import serve
from vfl.runtime.modes.simulate import job_spec
from vfl.transport.grpc import GrpcSettings

FAST = GrpcSettings(connect_timeout=4.0, call_timeout=10.0, ping_every=0.3, dead_after=1.5)


def _federation(data: dict[str, Path], tmp: Path, model: str = "lr") -> Path:
    cfg = build_simulation_config(
        tuple(f"{n}={p}" for n, p in data.items()),
        "pid",
        "insurer:y",
        model=model,
        he="ou",
        out_dir=tmp / "out",
        model_params={"epochs": 1} if model == "lr" else {},
    )
    return write_federation(cfg, job_spec(cfg, "job-serve"), tmp / "fed", tmp / "out")


def _serve_processes(
    job: Path, logs: Path, *options: str
) -> tuple[dict[str, subprocess.Popen[bytes]], dict[str, Path]]:
    """hospital and pharma as real `vfl serve --max-jobs 1` processes for ``job``, each logging its
    JSON events to LOGS/NAME.log."""
    paths = {n: logs / f"{n}.log" for n in ("hospital", "pharma")}
    procs = {}
    for n, log in paths.items():
        with open(log, "w") as sink:
            procs[n] = subprocess.Popen(
                [sys.executable, "-m", "vfl", "serve", "--config", str(job.parent / f"{n}.toml"),
                 "--max-jobs", "1", *options],
                env={**os.environ, "PYTHONUNBUFFERED": "1"}, stdout=subprocess.DEVNULL, stderr=sink,
            )  # fmt: skip
    return procs, paths


def _events(log: Path) -> list[dict[str, object]]:
    """A serving party's structured log lines (its JSON events)."""
    return [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]


def _serve_in_thread(cfg_path: Path, **kw: object) -> threading.Thread:
    t = threading.Thread(
        target=serve,
        args=(load_party_config(cfg_path),),
        kwargs={"max_jobs": 1, "idle_timeout": 30, "settings": FAST, "log": lambda m: None, **kw},
        daemon=True,
    )
    t.start()
    return t


def test_serving_parties_run_a_proposed_job(three_party_breast: dict[str, Path], tmp_path: Path) -> None:
    job = _federation(three_party_breast, tmp_path)
    threads = [_serve_in_thread(job.parent / f"{n}.toml") for n in ("hospital", "pharma")]
    time.sleep(0.5)
    outcome = run_as(load_job(job), load_party_config(job.parent / "insurer.toml"), settings=FAST)
    for t in threads:
        t.join(30)
    assert outcome.metrics["test_auc"] > 0.9
    for n in ("hospital", "pharma"):  # a serving party writes under OUT/JOB_ID/NAME
        assert (tmp_path / "out" / "job-serve" / n / "model.json").is_file()
    assert (tmp_path / "out" / "insurer" / "model.json").is_file()


def test_policy_refuses_a_job_and_the_proposer_is_told_why(
    three_party_breast: dict[str, Path], tmp_path: Path
) -> None:
    job = _federation(three_party_breast, tmp_path)
    pharma_cfg = job.parent / "pharma.toml"
    pharma_cfg.write_text(pharma_cfg.read_text() + '\n[serve]\naccept_from = ["insurer"]\nmodels = ["sbt"]\n')
    threads = [_serve_in_thread(job.parent / f"{n}.toml") for n in ("hospital", "pharma")]
    time.sleep(0.5)
    with pytest.raises(ConfigError, match=r"pharma: model 'lr' is not allowed here") as e:
        run_as(load_job(job), load_party_config(job.parent / "insurer.toml"), settings=FAST)
    assert "policy" in e.value.hint
    assert not (tmp_path / "out" / "insurer").exists()
    for t in threads:
        t.join(0.1)


def test_mismatched_job_files_are_refused_before_any_data_moves(
    three_party_breast: dict[str, Path], tmp_path: Path
) -> None:
    job = _federation(three_party_breast, tmp_path)
    other = job.parent / "job_other.toml"
    other.write_text(job.read_text().replace("seed = 42", "seed = 43"))
    errors: list[Exception] = []

    def run(name: str, path: Path) -> None:
        try:
            run_as(load_job(path), load_party_config(job.parent / f"{name}.toml"), settings=FAST)
        except Exception as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=run, args=("hospital", other)),
        threading.Thread(target=run, args=("pharma", job)),
    ]
    for t in threads:
        t.start()
    with pytest.raises(ConfigError, match="job files differ in seed"):
        run_as(load_job(job), load_party_config(job.parent / "insurer.toml"), settings=FAST)
    for t in threads:
        t.join(20)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("model.json"))


def test_peer_not_running_is_a_clear_error_within_the_deadline(
    three_party_breast: dict[str, Path], tmp_path: Path
) -> None:
    job = _federation(three_party_breast, tmp_path)
    t = time.perf_counter()
    with pytest.raises(PeerError, match=r"did not answer in 4 s") as e:
        run_as(load_job(job), load_party_config(job.parent / "insurer.toml"), settings=FAST)
    assert "running there" in e.value.hint
    assert time.perf_counter() - t < 15
    assert not (tmp_path / "out").exists()


def test_peer_killed_mid_job_stops_the_job_quickly_and_nothing_is_written(tmp_path: Path) -> None:
    from vfl.data.datasets import default_dataset

    ds = default_dataset()
    job = _federation(dict(ds.paths), tmp_path, model="sbt")
    for n in ds.parties:  # the embedded files name their columns differently
        p = job.parent / f"{n}.toml"
        p.write_text(
            p.read_text()
            .replace('id_column = "pid"', 'id_column = "patient_id"')
            .replace('label_column = "y"', 'label_column = "outcome"')
        )
    procs, logs = _serve_processes(job, tmp_path, "--dead-after", "2", "--ping-every", "0.5")

    def logged(n: str, event: str) -> list[dict[str, object]]:
        return [e for e in _events(logs[n]) if e["event"] == event]

    def wait_for(n: str, event: str, seconds: float) -> list[dict[str, object]]:
        deadline = time.monotonic() + seconds
        while not logged(n, event) and time.monotonic() < deadline:
            time.sleep(0.1)
        return logged(n, event)

    killed: list[float] = []

    def kill_hospital_mid_job() -> None:  # once its side of the job runs, not at a fixed time
        if wait_for("hospital", "job_started", 60):
            time.sleep(0.5)
            procs["hospital"].send_signal(signal.SIGKILL)
            killed.append(time.monotonic())

    try:  # a loaded machine starts the servers slowly: wait for them, not for a fixed time
        assert all(wait_for(n, "serving", 60) for n in logs), [p.read_text() for p in logs.values()]
        killer = threading.Thread(target=kill_hospital_mid_job, daemon=True)
        killer.start()
        insurer = replace(load_party_config(job.parent / "insurer.toml"))
        with pytest.raises(PeerError, match="hospital") as e:
            run_as(
                load_job(job),
                insurer,
                settings=GrpcSettings(connect_timeout=15, ping_every=0.5, dead_after=2),
            )
        assert killed and time.monotonic() - killed[0] < 30  # dead_after 2 s, with slack for load
        assert "log" in e.value.hint or "running" in e.value.hint
        assert not (tmp_path / "out" / "insurer").exists()
        failed = wait_for("pharma", "job_failed", 30)  # and the job ended at the other passive
        assert failed and "hospital" in str(failed[0]["msg"]), failed
        assert not list((tmp_path / "out").rglob("model.json"))
    finally:
        for p in procs.values():
            p.kill()
            p.wait(10)
