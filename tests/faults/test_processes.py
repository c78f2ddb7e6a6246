"""SIGKILL of a real party process at a protocol stage: its peers end with a PeerError naming it
within their liveness deadline, no party keeps any output, and a restart with --resume
completes the job (from the checkpoints, not from scratch). Two jobs only: processes are slow."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.faults.harness import PARTIES, expected_files
from vfl.core.errors import PeerError
from vfl.runtime.job.jobfile import load_job
from vfl.runtime.modes.config import build_simulation_config
from vfl.runtime.modes.processes import write_federation
from vfl.runtime.modes.simulate import job_spec

ROOT = Path(__file__).resolve().parents[2]
PARAMS = {"lr": {"max_iter": 3}, "sbt": {"n_estimators": 2, "max_depth": 2, "max_bin": 8}}
DEADLINE_S = 60.0  # for a party's exit after the kill; liveness declares a peer dead in 1.5 s


def _federation(data: dict[str, Path], root: Path, model: str) -> Path:
    cfg = build_simulation_config(
        tuple(f"{n}={p}" for n, p in data.items()),
        "pid",
        "insurer:y",
        model=model,
        he="ou",
        out_dir=root / "out",
        model_params=PARAMS[model],
    )
    return write_federation(cfg, job_spec(cfg, f"job-kill-{model}"), root / "fed", root / "out")


def _launch(job: Path, resume: bool = False) -> dict[str, subprocess.Popen[bytes]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    procs = {}
    for name in PARTIES:
        audit = job.parent / f"{name}.wire.jsonl"
        audit.unlink(missing_ok=True)
        cmd = [sys.executable, "-m", "tests.faults.party_runner", str(job), str(job.parent / f"{name}.toml")]
        procs[name] = subprocess.Popen(
            [*cmd, str(audit), *(["--resume"] if resume else [])],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
    return procs


def _kill_when_seen(procs: dict[str, subprocess.Popen[bytes]], job: Path, victim: str, prefix: str) -> None:
    """SIGKILL ``victim`` as soon as its audit shows it received a message of ``prefix``."""
    audit = job.parent / f"{victim}.wire.jsonl"
    deadline = time.monotonic() + 120
    while True:
        assert time.monotonic() < deadline, f"{victim} never received a '{prefix}' message"
        assert procs[victim].poll() is None, f"{victim} ended before '{prefix}'"
        lines = audit.read_text().splitlines() if audit.exists() else []
        if any(json.loads(x)["topic"].startswith(prefix) for x in lines if x.endswith("}")):
            procs[victim].send_signal(signal.SIGKILL)
            return
        time.sleep(0.02)


def _ends(procs: dict[str, subprocess.Popen[bytes]]) -> dict[str, tuple[int, str]]:
    out = {}
    for name, p in procs.items():
        try:
            _, err = p.communicate(timeout=DEADLINE_S)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            pytest.fail(f"{name} was still running {DEADLINE_S:.0f} s after the kill")
        out[name] = (p.returncode, err.decode(errors="replace"))
    return out


def _kill(data: dict[str, Path], tmp_path: Path, model: str, victim: str, prefix: str) -> Path:
    """Run the job as processes, SIGKILL ``victim`` at ``prefix``; the others must end with a
    PeerError naming it, and no party may keep outputs. Returns the job file."""
    job = _federation(data, tmp_path, model)
    out = tmp_path / "out"
    procs = _launch(job)
    try:
        _kill_when_seen(procs, job, victim, prefix)
        ends = _ends(procs)
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
    assert ends[victim][0] == -signal.SIGKILL
    for name, (rc, err) in ends.items():
        if name != victim:  # a PeerError (exit 4) that names the killed party
            assert rc == PeerError.exit_code, f"{name} exited {rc}: {err[-2000:]}"
            assert victim in err, err[-2000:]
    assert not [n for n in PARTIES if (out / n).exists()], "a party kept outputs of the killed job"
    assert not list(out.glob(".*.new-*"))
    return job


def _resume(job: Path) -> dict[str, dict[str, Any]]:
    """Restart every party with --resume; each must end with its whole output set."""
    out = job.parent.parent / "out"
    for name, (rc, err) in _ends(_launch(job, resume=True)).items():
        assert rc == 0, f"{name} failed to resume: {err[-2000:]}"
    spec = load_job(job).spec
    results = {}
    for name in PARTIES:
        assert {p.name for p in (out / name).iterdir()} == expected_files(spec, name)
        results[name] = json.loads((out / name / "result.json").read_text())
    return results


def test_a_passive_killed_in_an_lr_round_is_resumed_from_its_checkpoint(
    three_party_breast: dict[str, Path], tmp_path: Path
) -> None:
    results = _resume(_kill(three_party_breast, tmp_path, "lr", "hospital", "lr/i1/"))
    assert results["insurer"]["fit_stats"]["resumed_from_epoch"] >= 1  # not from scratch
    assert results["insurer"]["metrics"]["test_auc"] > 0.9


def test_the_label_holder_killed_while_scoring_leaves_no_model_anywhere(
    three_party_breast: dict[str, Path], tmp_path: Path
) -> None:
    """After training, before the commit: the peers hold finished parts but keep none (the
    resume of such a job is the in-memory tests' and test_resume.py's business)."""
    job = _kill(three_party_breast, tmp_path, "sbt", "insurer", "score/train/sbt/predict/")
    ckpt = job.parent.parent / "out" / "checkpoints"
    assert {p.parent.name for p in ckpt.glob("*/step-*.npz")} == set(PARTIES)  # training was done
