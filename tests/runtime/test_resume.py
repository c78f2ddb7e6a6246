"""Checkpoints and resuming: a killed job continues from the newest epoch all parties hold and
ends with the same model as an uninterrupted run; checkpoint files are never half-written,
damaged ones are refused, and another job's checkpoints are not resumed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.protocols.lr.conftest import load, split_host
from vfl.bench.harness import run_parties
from vfl.core.errors import ConfigError, DataError
from vfl.data.table import PartyTable
from vfl.runtime.models.lr import LRParams, LRPartyModel, fit_lr_party
from vfl.runtime.models.sbt import SBTParams, SBTPartyModel, fit_sbt_party, predict_sbt_party
from vfl.runtime.store.checkpoint import Checkpoint
from vfl.transport.channel import Channel

JOB = "job-resume-test"
PARAMS = LRParams(he="ou", batch_size=128, epochs=4, learning_rate=0.05, patience=5)
ROOT = Path(__file__).resolve().parents[2]


# -- the checkpoint file ---------------------------------------------------------------------
def _state(k: int) -> dict[str, Any]:
    return {
        "epoch": k,
        "w": np.arange(3.0) * k,
        "t": np.array([k], dtype=np.int64),
        "losses": [0.5] * k,
        "best": float("inf"),
        "stopped": False,
    }


def test_checkpoint_round_trips_and_keeps_the_two_newest(tmp_path: Path) -> None:
    ck = Checkpoint(tmp_path, "insurer", JOB, resume=False)
    for k in range(1, 5):
        ck.save(k, _state(k))
    assert sorted(p.name for p in (tmp_path / "insurer").iterdir()) == ["step-000003.npz", "step-000004.npz"]
    assert ck.load() is None and ck.steps() == []  # resume=False: never reads old state
    again = Checkpoint(tmp_path, "insurer", JOB, resume=True)
    assert again.steps() == [3, 4]
    got = again.load()
    assert got is not None and got["epoch"] == 4 and got["best"] == float("inf")
    np.testing.assert_array_equal(got["w"], np.arange(3.0) * 4)
    assert got["t"].dtype == np.int64 and got["losses"] == [0.5] * 4
    assert again.load(3)["epoch"] == 3  # type: ignore[index]
    # a fresh (non-resuming) run of the job removes the old files at its first save
    Checkpoint(tmp_path, "insurer", JOB, resume=False).save(1, _state(1))
    assert Checkpoint(tmp_path, "insurer", JOB, resume=True).steps() == [1]


def test_restarting_from_an_older_step_drops_the_abandoned_newer_ones(tmp_path: Path) -> None:
    ck = Checkpoint(tmp_path, "pharma", JOB, resume=True)
    for k in (4, 5):
        ck.save(k, _state(k))
    ck.save(1, _state(1))  # all parties restarted from scratch
    assert ck.steps() == [1]


def test_damaged_or_foreign_checkpoints_are_refused(tmp_path: Path) -> None:
    Checkpoint(tmp_path, "insurer", JOB, resume=False).save(2, _state(2))
    path = tmp_path / "insurer" / "step-000002.npz"
    data = path.read_bytes()
    foreign = "belongs to job 'job-resume-test' of 'insurer', not to job 'job-other'"
    with pytest.raises(DataError, match=foreign) as e:
        Checkpoint(tmp_path, "insurer", "job-other", resume=True).load()
    assert "without --resume" in e.value.hint
    path.write_bytes(data[: len(data) // 2])  # truncated
    with pytest.raises(DataError, match="damaged"):
        Checkpoint(tmp_path, "insurer", JOB, resume=True).load()
    # a flipped byte inside an array: the zip CRC or the SHA-256 catches it
    i = data.index((np.arange(3.0) * 2).tobytes())  # npz stores arrays uncompressed
    flipped = bytearray(data)
    flipped[i + 9] ^= 0x01
    path.write_bytes(bytes(flipped))
    with pytest.raises(DataError, match="damaged"):
        Checkpoint(tmp_path, "insurer", JOB, resume=True).steps()


def test_only_plain_values_are_checkpointed(tmp_path: Path) -> None:
    ck = Checkpoint(tmp_path, "insurer", JOB, resume=False)
    with pytest.raises(ConfigError, match="dtype object"):
        ck.save(1, {"w": np.array([object()], dtype=object)})
    with pytest.raises(ConfigError, match="not JSON-able"):
        ck.save(1, {"w": {1, 2}})
    ck.save(1, {"w": np.zeros(2)})
    with np.load(tmp_path / "insurer" / "step-000001.npz", allow_pickle=False) as z:
        assert set(z.files) == {"w", "__meta__"}


def test_checkpoints_are_parsed_one_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Parties of one simulation resume in threads; NumPy parses .npy headers with ast, which
    CPython 3.11 cannot do in two threads at once (python/cpython#106905)."""
    import ast

    parse, inside, most = ast.literal_eval, [0], [0]
    guard = threading.Lock()

    def slow_parse(text: str) -> Any:
        with guard:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        time.sleep(0.002)  # without serialisation the threads' parses overlap here
        with guard:
            inside[0] -= 1
        return parse(text)

    for party in ("pharma", "insurer", "hospital"):
        Checkpoint(tmp_path, party, JOB, resume=False).save(1, _state(1))
    monkeypatch.setattr(ast, "literal_eval", slow_parse)
    loaded: list[int] = []
    threads = [
        threading.Thread(
            target=lambda p=p: loaded.append(Checkpoint(tmp_path, p, JOB, resume=True).load()["epoch"])
        )  # type: ignore[index]
        for p in ("pharma", "insurer", "hospital") * 3
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert loaded == [1] * 9 and most[0] == 1


# -- LR over in-memory parties -----------------------------------------------------------------
class Crash(RuntimeError):
    """The injected fault."""


class FaultyChannel(Channel):
    """Delegates to ``inner``; dies on the first send or receive of ``topic``."""

    def __init__(self, inner: Channel, topic: str) -> None:
        super().__init__(inner.me, [inner.me, *inner.peers], inner.job_id, inner.timeout)
        self.inner, self.topic, self.stats = inner, topic, inner.stats

    def send(self, peer: str, topic: str, msg: Any) -> None:
        if topic == self.topic:
            raise Crash(f"{self.me} crashed before sending {topic}")
        self.inner.send(peer, topic, msg)

    def recv(self, peer: str, topic: str, kind: Any, timeout: float | None = None) -> Any:
        if topic == self.topic:
            raise Crash(f"{self.me} crashed before receiving {topic}")
        return self.inner.recv(peer, topic, kind, timeout)

    def close(self) -> None:
        self.inner.close()

    def _deliver(self, peer: str, topic: str, env: Any) -> None:
        raise NotImplementedError

    def _collect(self, peer: str, topic: str, timeout: float) -> Any:
        raise NotImplementedError


@pytest.fixture(scope="module")
def tables() -> dict[str, PartyTable]:
    tabs, _ = load("breast")
    return {t.name: t for t in split_host(tabs, 2)}  # guest (active), host0, host1


def _fit(
    tables: dict[str, PartyTable],
    ckpt: Path | None,
    *,
    resume: bool = False,
    crash_on: str | None = None,
    params: LRParams = PARAMS,
) -> dict[str, LRPartyModel]:
    def one(ch: Channel) -> LRPartyModel:
        box = Checkpoint(ckpt, ch.me, JOB, resume=resume) if ckpt else None
        if crash_on:
            ch = FaultyChannel(ch, crash_on)
        return fit_lr_party(ch, tables[ch.me], active="guest", params=params, checkpoint=box)

    return run_parties(list(tables), one, job_id=JOB)


def _same(a: dict[str, LRPartyModel], b: dict[str, LRPartyModel], atol: float = 1e-9) -> None:
    for name in a:
        np.testing.assert_allclose(b[name].weights, a[name].weights, rtol=0, atol=atol)
        if a[name].intercept is not None:
            assert abs(b[name].intercept - a[name].intercept) <= atol  # type: ignore[operator]


@pytest.fixture(scope="module")
def reference(tables: dict[str, PartyTable]) -> dict[str, LRPartyModel]:
    """An uninterrupted run without checkpoints."""
    return _fit(tables, None)


def test_lr_resumed_after_a_crash_equals_the_uninterrupted_run(
    tables: dict[str, PartyTable], reference: dict[str, LRPartyModel], tmp_path: Path
) -> None:
    with pytest.raises(Crash):
        _fit(tables, tmp_path, crash_on="lr/e2/b1/score")  # every party dies inside epoch 2
    for name in tables:
        assert Checkpoint(tmp_path, name, JOB, resume=True).steps() == [1, 2]
    resumed = _fit(tables, tmp_path, resume=True)
    _same(reference, resumed, atol=0.0)  # exact backend, exact masks: bit-identical
    assert resumed["guest"].fit_stats["resumed_from_epoch"] == 2
    assert resumed["host1"].fit_stats["resumed_from_epoch"] == 2
    assert resumed["guest"].fit_stats["loss_history"] == reference["guest"].fit_stats["loss_history"]
    assert resumed["guest"].parts == reference["guest"].parts  # same fingerprints: same model
    assert Checkpoint(tmp_path, "guest", JOB, resume=True).steps() == [3, 4]
    again = _fit(tables, tmp_path, resume=True)  # resuming a finished job: only the final exchange
    _same(reference, again, atol=0.0)
    assert again["guest"].fit_stats["resumed_from_epoch"] == PARAMS.epochs


def test_parties_one_epoch_apart_restart_from_the_epoch_all_hold(
    tables: dict[str, PartyTable], reference: dict[str, LRPartyModel], tmp_path: Path
) -> None:
    with pytest.raises(Crash):
        _fit(tables, tmp_path, crash_on="lr/e3/b0/score")
    (tmp_path / "host0" / "step-000003.npz").unlink()  # host0 died before saving epoch 3
    resumed = _fit(tables, tmp_path, resume=True)
    _same(reference, resumed, atol=0.0)
    assert resumed["host1"].fit_stats["resumed_from_epoch"] == 2


def test_checkpoints_of_other_parameters_are_refused(tables: dict[str, PartyTable], tmp_path: Path) -> None:
    with pytest.raises(Crash):
        _fit(tables, tmp_path, crash_on="lr/e1/b0/score")
    other = LRParams(**{**PARAMS.__dict__, "learning_rate": 0.2})
    with pytest.raises(DataError, match="other data or parameters"):
        _fit(tables, tmp_path, resume=True, params=other)


# -- SecureBoost over in-memory parties ----------------------------------------------------------
SBT = SBTParams(he="ou", n_estimators=4, max_depth=2, max_bin=8)


def _fit_sbt(
    tables: dict[str, PartyTable], ckpt: Path | None, *, resume: bool = False, crash_on: str | None = None
) -> dict[str, SBTPartyModel]:
    def one(ch: Channel) -> SBTPartyModel:
        box = Checkpoint(ckpt, ch.me, JOB, resume=resume) if ckpt else None
        if crash_on:
            ch = FaultyChannel(ch, crash_on)
        return fit_sbt_party(ch, tables[ch.me], active="guest", params=SBT, checkpoint=box)

    return run_parties(list(tables), one, job_id=JOB)


def _sbt_scores(tables: dict[str, PartyTable], models: dict[str, SBTPartyModel]) -> np.ndarray:
    out = run_parties(list(tables), lambda ch: predict_sbt_party(ch, models[ch.me], tables[ch.me]))
    return np.asarray(out["guest"])


def test_sbt_resumed_after_a_crash_equals_the_uninterrupted_run(
    tables: dict[str, PartyTable], tmp_path: Path
) -> None:
    reference = _fit_sbt(tables, None)
    with pytest.raises(Crash):
        _fit_sbt(tables, tmp_path, crash_on="sbt/tree2/gh")  # every party dies at tree 2
    assert Checkpoint(tmp_path, "host0", JOB, resume=True).steps() == [1, 2]
    (tmp_path / "host1" / "step-000002.npz").unlink()  # host1 died before saving tree 2
    resumed = _fit_sbt(tables, tmp_path, resume=True)
    assert resumed["guest"].fit_stats["resumed_from_tree"] == 1
    assert len(resumed["guest"].trees) == SBT.n_estimators

    def shape(m: SBTPartyModel) -> list[list[tuple[Any, ...]]]:  # split ids are random: not compared
        return [[(n.owner, n.feature, n.left, n.right, n.value) for n in t.nodes] for t in m.trees]

    assert shape(resumed["guest"]) == shape(reference["guest"])
    np.testing.assert_array_equal(_sbt_scores(tables, resumed), _sbt_scores(tables, reference))


# -- real processes, SIGKILL -------------------------------------------------------------------
PARTIES = ("insurer", "hospital", "pharma")
KILL_PARAMS = {
    "lr": {"epochs": 4, "batch_size": 48, "learning_rate": 0.05, "patience": 5},
    "sbt": {"n_estimators": 4, "max_depth": 3, "max_bin": 16},
}


def _processes_federation(data: dict[str, Path], root: Path, model: str) -> Path:
    from vfl.runtime.modes.config import build_simulation_config
    from vfl.runtime.modes.processes import write_federation
    from vfl.runtime.modes.simulate import job_spec

    cfg = build_simulation_config(
        tuple(f"{n}={p}" for n, p in data.items()),
        "pid",
        "insurer:y",
        model=model,
        he="ou",
        out_dir=root / "out",
        model_params=KILL_PARAMS[model],
    )
    return write_federation(cfg, job_spec(cfg, "job-kill"), root / "fed", root / "out")


def _launch(job: Path, ckpt: Path | None, resume: bool = False) -> dict[str, subprocess.Popen[bytes]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = {}
    for name in PARTIES:
        cfg = job.parent / f"{name}.toml"
        store = str(ckpt) if ckpt else "-"
        cmd = [sys.executable, "-m", "tests.runtime.resume_runner", str(job), str(cfg), store]
        procs[name] = subprocess.Popen(
            cmd + (["--resume"] if resume else []),
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
    return procs


def _finish(procs: dict[str, subprocess.Popen[bytes]], out: Path) -> dict[str, dict[str, Any]]:
    import json

    for name, p in procs.items():
        log, _ = p.communicate(timeout=120)
        assert p.returncode == 0, f"{name} failed:\n{log.decode()[-3000:]}"
    return {n: json.loads((out / n / "weights.json").read_text()) for n in procs}


class CheckpointWatcher(threading.Thread):
    """Reads every checkpoint file the moment it is seen: each must be complete (hash OK)."""

    def __init__(self, ckpt: Path) -> None:
        super().__init__(daemon=True)
        self.ckpt, self.seen, self.bad = ckpt, set(), []  # type: ignore[var-annotated]
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.sweep()
            time.sleep(0.005)

    def sweep(self) -> None:
        for name in PARTIES:
            box = Checkpoint(self.ckpt, name, "job-kill", resume=True)
            for path in sorted((self.ckpt / name).glob("step-*.npz")):
                step = int(path.stem.split("-")[1])
                try:
                    state = box.load(step)
                    assert state is not None and state["step"] == step
                    self.seen.add((name, step))
                except DataError as exc:
                    if path.exists():  # rotated away while being read is fine; damaged is not
                        self.bad.append(f"{path}: {exc}")


@pytest.mark.slow
@pytest.mark.parametrize("model", ["lr", "sbt"])
def test_sigkilled_parties_resume_to_the_uninterrupted_model(
    three_party_breast: dict[str, Path], tmp_path: Path, model: str
) -> None:
    ref_job = _processes_federation(three_party_breast, tmp_path / "ref", model)
    reference = _finish(_launch(ref_job, None), tmp_path / "ref" / "out")

    job = _processes_federation(three_party_breast, tmp_path / "run", model)
    ckpt = tmp_path / "run" / "checkpoints"
    watcher = CheckpointWatcher(ckpt)
    watcher.start()
    procs = _launch(job, ckpt)
    deadline = time.monotonic() + 90
    # the active saves each step before it tells the passives to save theirs, so once both
    # passives hold a step every party does
    while not all(list((ckpt / n).glob("step-*.npz")) for n in ("pharma", "hospital")):
        assert time.monotonic() < deadline, "the passives never wrote a checkpoint"
        assert all(p.poll() is None for p in procs.values()), "a party exited before its first checkpoint"
        time.sleep(0.01)
    procs["pharma"].send_signal(signal.SIGKILL)  # mid-job, right after the first checkpoints
    for name in ("insurer", "hospital"):
        procs[name].send_signal(signal.SIGKILL)
    for p in procs.values():
        p.communicate(timeout=30)  # also closes the pipe
        assert p.returncode == -signal.SIGKILL
    assert not any((tmp_path / "run" / "out" / n / "weights.json").exists() for n in PARTIES)

    resumed = _finish(_launch(job, ckpt, resume=True), tmp_path / "run" / "out")
    watcher.stop.set()
    watcher.join(5)
    watcher.sweep()
    assert watcher.bad == []
    assert {s for n, s in watcher.seen if n == "pharma"} >= {1, 4}
    for name in PARTIES:
        assert resumed[name]["resumed_from"] >= 1
        if model == "lr":
            assert np.max(np.abs(np.subtract(resumed[name]["weights"], reference[name]["weights"]))) <= 1e-9
        else:
            assert resumed[name]["splits"] == reference[name]["splits"]
    key = "intercept" if model == "lr" else "trees"
    assert resumed["insurer"][key] == reference["insurer"][key]
    assert resumed["insurer"]["metrics"] == reference["insurer"]["metrics"]
    assert not list(ckpt.glob("*/.step-*.tmp"))  # no temporary file left behind
