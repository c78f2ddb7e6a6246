"""Jobs run with a faulty channel, and what became of every party: the tests of this folder and
``scripts/fault_run.py`` share it.

A job here is the real one (``run_party_job``: handshake, PSI, training with checkpoints,
scoring, the commit, each party's outputs written as one set), its parties as threads over the
memory transport with a short receive timeout, each party's channel wrapped in
:class:`~vfl.transport.faults.FaultyChannel`. :func:`run_job` records each party's own end (its
result or error, when it ended, what it left in its output folder); :func:`judge` says which of
the acceptable endings it is, or which unacceptable one.
"""

from __future__ import annotations

import errno
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vfl.core.errors import CryptoError, VflError
from vfl.data.datasets import fate_pair
from vfl.data.table import PartyTable
from vfl.runtime.job.run import PartyOutcome, run_party_job
from vfl.runtime.job.spec import JobSpec
from vfl.runtime.modes.outputs import write_party_outputs
from vfl.runtime.store.modelfile import ModelFile, load_model_file
from vfl.transport.channel import Channel
from vfl.transport.faults import FaultPlan, FaultyChannel, PartyStopped
from vfl.transport.memory import MemoryHub

__all__ = [
    "MODELS",
    "PARTIES",
    "STAGES",
    "Federation",
    "JobRun",
    "PartyEnd",
    "judge",
    "output_state",
    "run_job",
    "stage_topics",
]

PARTIES = ("insurer", "hospital", "pharma")  # insurer: label holder, PSI comparer, key holder
TIMEOUT_S = 4.0  # every receive: a dropped message ends the job in seconds (2 s flaked on a loaded box)
JOB = "job-faults"
MODELS: dict[str, dict[str, Any]] = {  # small models: each job takes a second or two
    "lr": {"max_iter": 2},
    "sbt": {"n_estimators": 2, "max_depth": 2, "max_bin": 8},
}

#: the topics of each protocol stage, per model (fnmatch patterns, '|' between alternatives):
#: PSI; the set-up (the handshake and the model's key and parameter exchange); the second
#: training round (the first checkpoint exists by then); federated scoring (with the part
#: fingerprints it starts with; a training job's two scorings run under score/train/ and
#: score/test/); the commit
STAGES: dict[str, dict[str, str]] = {
    "psi": {"lr": "psi/*", "sbt": "psi/*"},
    "setup": {
        "lr": "job/propose|job/answer|lr/setup*|lr/resume/*",
        "sbt": "job/propose|job/answer|sbt/setup|sbt/info|sbt/resume/*",
    },
    "round": {"lr": "lr/i1/*", "sbt": "sbt/tree1/*"},
    "predict": {"lr": "model/fingerprint|*lr/predict/*", "sbt": "model/fingerprint|*sbt/predict/*"},
    "commit": {"lr": "job/commit", "sbt": "job/commit"},
}


def stage_topics(stage: str, model: str) -> str:
    return STAGES[stage][model]


# -- data --------------------------------------------------------------------------------------
def breast_tables(rows: int = 160, seed: int = 3) -> dict[str, PartyTable]:
    """FATE's breast split three ways (insurer: label + 10 columns, hospital and pharma: 10
    each); each party misses a few patients and holds its rows in its own order, so PSI matters."""
    g_path, h_path = fate_pair("breast")
    guest = pd.read_csv(g_path).head(rows)
    host = pd.read_csv(h_path).set_index("id").loc[guest["id"]]
    ids = np.array([f"B-{int(i):04d}" for i in guest["id"]], dtype=object)
    cols = {
        "insurer": guest.drop(columns=["id", "y"]),
        "hospital": host[[f"x{i}" for i in range(10)]],
        "pharma": host[[f"x{i}" for i in range(10, 20)]],
    }
    rng = np.random.default_rng(seed)
    out = {}
    for name, df in cols.items():
        keep = rng.permutation(np.flatnonzero(rng.random(len(ids)) < 0.95))
        out[name] = PartyTable(
            name=name,
            ids=ids[keep],
            features=df.to_numpy(dtype=np.float64)[keep],
            feature_names=[str(c) for c in df.columns],
            label=guest["y"].to_numpy(dtype=np.float64)[keep] if name == "insurer" else None,
            label_name="y" if name == "insurer" else None,
        )
    return out


@dataclass
class Federation:
    """The job's parties, their tables and (for predict jobs) their trained model files."""

    tables: dict[str, PartyTable]
    models: dict[str, ModelFile] = field(default_factory=dict)

    def spec(self, model: str, task: str = "train") -> JobSpec:
        if task == "predict":
            first = self.models["insurer"]
            return JobSpec.create(
                job_id=f"{JOB}-predict",
                parties=PARTIES,
                active="insurer",
                model=first.kind,
                he="ou",
                test_size=0.0,
                task="predict",
                model_job_id=first.job_id,
            )
        return JobSpec.create(
            job_id=JOB, parties=PARTIES, active="insurer", model=model, he="ou", model_params=MODELS[model]
        )

    def load_models(self, out: Path) -> None:
        self.models = {n: load_model_file(out / n / "model.json") for n in PARTIES}


# -- a full disk ------------------------------------------------------------------------------
@contextmanager
def full_disk(party: str, where: str = "", after_bytes: int = 0) -> Iterator[list[str]]:
    """Every file ``party``'s thread opens through :func:`os.fdopen` (the atomic writer's temp
    files: checkpoints and outputs) whose path holds ``where`` fails with ENOSPC once
    ``after_bytes`` are written to it, as on a full disk; other writes go on as usual. Yields
    the paths that failed."""
    real = os.fdopen
    failed: list[str] = []

    class Full:
        def __init__(self, f: Any) -> None:
            self.f, self.n = f, 0

        def write(self, b: Any) -> int:
            if self.n + len(b) > after_bytes:
                failed.append(os.readlink(f"/proc/self/fd/{self.f.fileno()}"))
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            self.n += len(b)
            return int(self.f.write(b))

        def __getattr__(self, name: str) -> Any:
            return getattr(self.f, name)

        def __enter__(self) -> Full:
            return self

        def __exit__(self, *exc: object) -> None:
            self.f.close()

    def fdopen(fd: int, *args: Any, **kw: Any) -> Any:
        f = real(fd, *args, **kw)
        if threading.current_thread().name != f"fault-{party}" or where not in os.readlink(
            f"/proc/self/fd/{fd}"
        ):
            return f
        return Full(f)

    os.fdopen = fdopen
    try:
        yield failed
    finally:
        os.fdopen = real


# -- running -----------------------------------------------------------------------------------
@dataclass
class PartyEnd:
    name: str
    outcome: PartyOutcome | None
    error: BaseException | None
    seconds: float  # from the job's start to this party's end (None: still running)
    outputs: str  # "full" | "none" | "partial": what OUT/NAME holds afterwards


@dataclass
class JobRun:
    spec: JobSpec
    ends: dict[str, PartyEnd]
    hung: list[str]  # parties still running at the deadline
    plan: FaultPlan | None
    seconds: float

    @property
    def completed(self) -> bool:
        return not self.hung and all(e.error is None and e.outputs == "full" for e in self.ends.values())

    def errors(self) -> dict[str, BaseException]:
        return {n: e.error for n, e in self.ends.items() if e.error is not None}


def expected_files(spec: JobSpec, name: str) -> set[str]:
    """A party's whole output set (vfl/runtime/modes/outputs.py)."""
    files = {"aligned_ids.csv", "result.json"}
    if spec.trains:
        files.add("model.json")
    if spec.task == "predict" and name == spec.active:
        files.add("predictions.csv")
    return files


def output_state(out: Path, spec: JobSpec, name: str) -> str:
    """ "none", "full" (every file of the set, each readable) or "partial" (anything else,
    including a staging folder left beside it)."""
    if any(p.name.startswith(f".{name}.") for p in out.glob(f".{name}.*")):
        return "partial"
    folder = out / name
    if not folder.exists():
        return "none"
    have = {p.name for p in folder.iterdir()}
    if have != expected_files(spec, name):
        return "partial"
    try:
        if "model.json" in have:
            load_model_file(folder / "model.json")
        import json

        json.loads((folder / "result.json").read_text())
    except (VflError, ValueError):
        return "partial"
    return "full"


def run_job(
    fed: Federation,
    spec: JobSpec,
    out: Path,
    plan: FaultPlan | None = None,
    *,
    checkpoints: Path | None = None,
    resume: bool = False,
    timeout: float = TIMEOUT_S,
    deadline: float = 60.0,
) -> JobRun:
    """Every party of ``spec`` in a thread, each channel behind ``plan``; waits up to
    ``deadline`` seconds for all to end (those still running are reported as hung). A party
    inside a ``hang`` wakes once all its peers have ended (so a long hang costs no time)."""
    hub = MemoryHub(list(spec.order), spec.job_id, timeout=timeout)
    results: dict[str, PartyOutcome] = {}
    errors: dict[str, BaseException] = {}
    ended: dict[str, float] = {}
    t0 = time.perf_counter()

    def party(name: str) -> None:
        ch: Channel = hub.channel(name)
        if plan is not None:
            ch = FaultyChannel(ch, plan)
        try:
            results[name] = run_party_job(
                spec,
                fed.tables[name],
                ch,
                checkpoint_dir=checkpoints if spec.trains else None,
                resume=resume,
                model_file=fed.models.get(name),
                keep=lambda o: write_party_outputs(out, o),
            )
        except BaseException as exc:
            errors[name] = exc
            hub.mark_dead(name, f"{type(exc).__name__}: {exc}")
        finally:
            try:
                ch.close()
            finally:
                ended[name] = time.perf_counter() - t0

    threads = {
        n: threading.Thread(target=party, args=(n,), name=f"fault-{n}", daemon=True) for n in spec.order
    }
    for t in threads.values():
        t.start()
    while any(t.is_alive() for t in threads.values()) and time.perf_counter() - t0 < deadline:
        alive = {n for n, t in threads.items() if t.is_alive()}
        if plan is not None and alive <= plan.hanging:
            plan.released.set()  # every peer gave up on the hung party: let it wake up
        time.sleep(0.02)
    hung = [n for n, t in threads.items() if t.is_alive()]
    if plan is not None:
        plan.released.set()  # a hung party carries on, and ends at its next receive
        for n in hung:
            threads[n].join(10)
    ends = {
        n: PartyEnd(n, results.get(n), errors.get(n), ended.get(n, float("inf")), output_state(out, spec, n))
        for n in spec.order
    }
    return JobRun(spec, ends, hung, plan, time.perf_counter() - t0)


# -- judging -----------------------------------------------------------------------------------
#: the acceptable endings, and the unacceptable ones
COMPLETED = "completed"  # every party ended with its outputs (the fault was absorbed)
ENDED_CLEANLY = "ended cleanly"  # every party ended with a vfl error (or the injected stop)
SPLIT = "split commit"  # the label holder kept its outputs, a peer did not (resume mends it)
UNCLEAR = "unclear error"  # a party ended with an error that is not vfl's
LOST = "data lost"  # a half-written output set
HUNG = "hung"  # a party still running at the deadline
WRONG = "wrong result"  # completed, but not with the model a fault-free run trains


def judge(run: JobRun, reference: dict[str, Any] | None = None) -> str:
    """Which ending ``run`` had. ``reference``: the label holder's metrics of a fault-free run
    (a completed run must reproduce them)."""
    if run.hung:
        return HUNG
    if any(e.outputs == "partial" for e in run.ends.values()):
        return LOST
    for e in run.ends.values():
        if e.error is not None and not isinstance(e.error, VflError | PartyStopped):
            return UNCLEAR
    if run.completed:
        if reference is not None and metrics_of(run) != reference:
            return WRONG
        return COMPLETED
    if all(e.error is not None and e.outputs == "none" for e in run.ends.values()):
        return ENDED_CLEANLY
    lead, peers = run.spec.order[0], run.spec.order[1:]
    if run.ends[lead].outputs == "full" and any(run.ends[p].error is not None for p in peers):
        return SPLIT  # the label holder kept its set, then a peer missed (or refused) the commit
    return LOST  # a peer kept outputs the label holder never committed


def metrics_of(run: JobRun) -> dict[str, Any]:
    """What a completed run's label holder reports: its metrics (train) or predictions."""
    lead = run.ends[run.spec.order[0]].outcome
    assert lead is not None
    if lead.scores is not None:
        return {"scores": [round(float(s), 12) for s in np.ravel(lead.scores)]}
    return dict(lead.metrics)


def names_a_cause(run: JobRun, *, strict: bool = False) -> list[str]:
    """Errors that name neither the party they blame (a peer of the job), nor the message
    (a quoted topic), nor the file they could not write. A CryptoError (a tampered ciphertext
    refused at decryption) names its cause but not the sender; ``strict`` lists those too."""
    vague = []
    for name, exc in run.errors().items():
        if isinstance(exc, PartyStopped) or (isinstance(exc, CryptoError) and not strict):
            continue
        text = str(exc)
        if not any(p in text for p in run.spec.order if p != name) and "'" not in text and " /" not in text:
            vague.append(f"{name}: {text}")
    return vague
