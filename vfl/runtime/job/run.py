"""One party's whole job, the same in a simulation and in a deployment: PSI, then (optionally)
training on the agreed train split and federated scoring of train and test rows."""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vfl.core.errors import ConfigError, DataError, ProtocolError
from vfl.core.progress import Progress
from vfl.crypto.he.keygen import PendingKeys, start_keygen
from vfl.data.table import PartyTable
from vfl.executor.base import Executor
from vfl.executor.choose import executor_scope
from vfl.executor.cohosted import cohosted
from vfl.report.curves import roc_points
from vfl.runtime.evaluate.metrics import model_details, model_metrics, objective_of
from vfl.runtime.job.align import align_party
from vfl.runtime.job.handshake import answer, propose, same_job
from vfl.runtime.job.spec import JobSpec
from vfl.runtime.models.registry import MODELS, make_params
from vfl.runtime.store.modelfile import part_sha256
from vfl.transport.channel import Channel
from vfl.transport.scoped import ScopedChannel
from vfl.wire.v1 import job_pb2

if TYPE_CHECKING:
    from vfl.runtime.store.modelfile import ModelFile

__all__ = ["T_COMMIT", "PartyOutcome", "commit", "exchange_fingerprints", "run_party_job", "split_rows"]

#: The label holder's last word: the job succeeded everywhere, keep your outputs.
T_COMMIT = "job/commit"


@dataclass
class PartyOutcome:
    name: str
    aligned_ids: np.ndarray
    intersection: int
    seconds: dict[str, float]
    bytes_sent: int
    psi_scalar_mults: int
    model: Any = None
    metrics: dict[str, float] = field(default_factory=dict)  # at the active only
    fit_stats: dict[str, Any] = field(default_factory=dict)
    parts: dict[str, str] = field(default_factory=dict)  # every party's part fingerprint
    scores: np.ndarray | None = None  # predict task, at the active: one score per aligned row
    curve: dict[str, Any] = field(default_factory=dict)  # the active's test ROC (its own labels)
    test_scores: np.ndarray | None = None  # at the active: its test rows' scores (never reported)

    def to_dict(self) -> dict[str, Any]:
        """What this party reports about itself (no rows, no scores)."""
        return {
            "name": self.name,
            "intersection": self.intersection,
            "seconds": self.seconds,
            "bytes_sent": self.bytes_sent,
            "psi_scalar_mults": self.psi_scalar_mults,
            "metrics": self.metrics,
            "fit_stats": self.fit_stats,
            "curve": self.curve,
            "peak_rss_mib": _peak_rss_mib(),
        }


def _peak_rss_mib() -> float:
    """This process's peak resident memory (one party per process under `vfl run`)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def split_rows(n: int, test_size: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The same split at every party: rows are aligned, so a shared seed is enough."""
    perm = np.random.default_rng(seed).permutation(n)
    n_test = round(n * test_size)
    return np.sort(perm[n_test:]), np.sort(perm[:n_test])


def run_party_job(
    spec: JobSpec,
    table: PartyTable,
    channel: Channel,
    progress: Progress | None = None,
    *,
    agreed: bool = False,
    checkpoint_dir: Path | None = None,
    resume: bool = False,
    model_file: ModelFile | None = None,
    keep: Callable[[PartyOutcome], Any] | None = None,
) -> PartyOutcome:
    """Our side of the whole job. ``agreed``: the handshake already ran (``vfl serve``).
    ``checkpoint_dir``: where this party checkpoints after each epoch / tree; ``resume``: continue
    from the checkpoint found there (every party of the job resumes together). ``model_file``:
    this party's trained part, for a ``predict`` task. ``keep``: writes this party's outputs; it
    runs at the commit (see :func:`commit`), so a failure anywhere leaves no party with a model.

    PSI and training share one executor (``[compute]``): on Ray, the workers PSI started are the
    ones training uses."""
    with executor_scope(None) as executor:
        return _run_party_job(
            spec,
            table,
            channel,
            progress,
            executor,
            agreed=agreed,
            checkpoint_dir=checkpoint_dir,
            resume=resume,
            model_file=model_file,
            keep=keep,
        )


def _run_party_job(
    spec: JobSpec,
    table: PartyTable,
    channel: Channel,
    progress: Progress | None,
    executor: Executor,
    *,
    agreed: bool,
    checkpoint_dir: Path | None,
    resume: bool,
    model_file: ModelFile | None,
    keep: Callable[[PartyOutcome], Any] | None,
) -> PartyOutcome:
    t0 = time.perf_counter()
    training = spec.trains
    params = None
    if training:  # bad parameters stop the job here, before the handshake and PSI
        params = make_params(spec.model, spec.he, spec.seed, {**spec.model_params, "device": spec.device})
    # the label holder's HE keys are made while the handshake and PSI run (keygen.py)
    keys: PendingKeys | None = None
    if training and channel.me == spec.active:
        # SecureBoost's [[0]]s are made ahead only by a party with a process of its own (HEWork)
        ahead = MODELS[spec.model].zeros_ahead and not cohosted()
        keys = start_keygen(spec.he, zeros_for=table.n_rows if ahead else 0)
    if not agreed:
        if channel.me == spec.order[0]:
            propose(channel, spec)
        else:
            answer(channel, spec.order[0], same_job(spec))
    aligned = align_party(channel, table, spec.order, progress, executor)
    seconds = {"psi": time.perf_counter() - t0}
    out = PartyOutcome(
        name=channel.me,
        aligned_ids=aligned.table.ids,
        intersection=aligned.psi.size,
        seconds=seconds,
        bytes_sent=0,
        psi_scalar_mults=aligned.psi.scalar_mults,
    )
    if spec.task == "predict":
        _predict(spec, aligned.table, channel, out, model_file)
    elif training:
        assert spec.active is not None
        kind = MODELS[spec.model]
        train_rows, test_rows = split_rows(aligned.psi.size, spec.test_size, spec.seed)
        train, test = aligned.table.take(train_rows), aligned.table.take(test_rows)
        t1 = time.perf_counter()
        extra: dict[str, Any] = {}
        if checkpoint_dir is not None:
            from vfl.runtime.store.checkpoint import Checkpoint

            extra["checkpoint"] = Checkpoint(checkpoint_dir, channel.me, spec.job_id, resume=resume)
        if keys is not None:
            extra["scheme"] = keys.result()
            seconds["keygen_wait"] = time.perf_counter() - t1  # what PSI did not hide
        out.model = kind.fit(
            channel, train, active=spec.active, params=params, progress=progress, executor=executor, **extra
        )
        seconds["train"] = time.perf_counter() - t1
        out.parts = exchange_fingerprints(channel, part_sha256(out.model.to_dict()))
        t2 = time.perf_counter()
        # two scorings on one channel: each under its own topics (vfl/transport/scoped.py)
        p_train = kind.predict(ScopedChannel(channel, "score/train"), out.model, train, device=spec.device)
        p_test = None
        if len(test_rows):
            p_test = kind.predict(ScopedChannel(channel, "score/test"), out.model, test, device=spec.device)
        seconds["predict"] = time.perf_counter() - t2
        out.fit_stats = dict(getattr(out.model, "fit_stats", {}) or {})
        if channel.me == spec.active and p_train is not None:
            assert train.label is not None and test.label is not None
            out.metrics = {f"train_{k}": v for k, v in model_metrics(params, train.label, p_train).items()}
            if p_test is not None:
                test_metrics = model_metrics(params, test.label, p_test)
                out.metrics.update({f"test_{k}": v for k, v in test_metrics.items()})
                details = model_details(params, test.label, p_test)  # the multi-class confusion matrix
                out.fit_stats.update({f"test_{k}": v for k, v in details.items()})
                if objective_of(params) == "binary:logistic":  # the ROC and the paired AUC: binary only
                    out.curve = {**roc_points(test.label, p_test), "split": "test"}
                    out.test_scores = np.asarray(p_test)
    out.bytes_sent = channel.stats.total_bytes_sent  # what the outputs report: all but the commit
    seconds["total"] = time.perf_counter() - t0
    commit(channel, spec, out, keep)
    return out


def commit(
    channel: Channel, spec: JobSpec, out: PartyOutcome, keep: Callable[[PartyOutcome], Any] | None
) -> None:
    """The last, agreed step of every job. The label holder finishes last (its metrics come after
    everyone's scoring): it keeps its own outputs, then tells every peer the job succeeded; a peer
    keeps its outputs only on that word. So a failure at the label holder after training (or
    anywhere before) leaves no party with a model part: the peers' wait ends in a PeerError."""
    lead = spec.order[0]
    if channel.me == lead:
        if keep is not None:
            keep(out)
        for peer in channel.peers:
            channel.send(peer, T_COMMIT, job_pb2.JobCommit(job_id=spec.job_id))
        return
    got = channel.recv(lead, T_COMMIT, job_pb2.JobCommit)
    if got.job_id != spec.job_id:
        raise ProtocolError(f"{lead} committed job {got.job_id!r}, not this job {spec.job_id!r}")
    if keep is not None:
        keep(out)


def exchange_fingerprints(channel: Channel, mine: str) -> dict[str, str]:
    """Every party tells every other the SHA-256 of its model part."""
    msg = job_pb2.PartFingerprint(party=channel.me, sha256=mine)
    for peer in channel.peers:
        channel.send(peer, "model/fingerprint", msg)
    parts = {channel.me: mine}
    for peer in channel.peers:
        got = channel.recv(peer, "model/fingerprint", job_pb2.PartFingerprint)
        if got.party != peer or len(got.sha256) != 64:
            raise ProtocolError(f"{peer} sent a malformed part fingerprint")
        parts[peer] = got.sha256
    return parts


def _predict(
    spec: JobSpec, table: PartyTable, channel: Channel, out: PartyOutcome, model: ModelFile | None
) -> None:
    """Score the aligned rows with the parts of training job ``spec.model_job_id``; first check
    that every party holds the part the others recorded (mismatched parts are refused)."""
    if model is None or model.job_id != spec.model_job_id:
        raise ConfigError(
            f"{channel.me} has no model part of training job {spec.model_job_id!r}",
            "keep each party's OUT/.../model.json from training and point the prediction at it",
        )
    theirs = exchange_fingerprints(channel, model.sha256)
    wrong = sorted(p for p, h in theirs.items() if model.parts.get(p) != h)
    if wrong or set(theirs) != set(model.parts):
        raise DataError(
            f"model parts do not belong together: {', '.join(wrong) or 'the party set'} differ from training",
            "every party must use the model part written by the same training job",
        )
    t = time.perf_counter()
    out.scores = MODELS[model.kind].predict(channel, model.part, table, device=spec.device)
    out.seconds["predict"] = time.perf_counter() - t
