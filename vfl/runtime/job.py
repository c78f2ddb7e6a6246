"""One party's whole job, the same in a simulation and in a deployment: PSI, then (optionally)
training on the agreed train split and federated scoring of train and test rows."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vfl.data.table import PartyTable
from vfl.runtime.metrics import binary_metrics
from vfl.runtime.psi_job import align_party
from vfl.runtime.training import MODELS, make_params
from vfl.transport.channel import Channel

__all__ = ["JobSpec", "PartyOutcome", "run_party_job", "split_rows"]

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class JobSpec:
    """What every party of a job agrees on (the job file)."""

    job_id: str
    order: tuple[str, ...]  # the label holder first: PSI comparer and HE key holder
    active: str | None
    model: str = "none"
    he: str = "ckks"
    test_size: float = 0.2
    seed: int = 42
    model_params: dict[str, Any] = field(default_factory=dict)


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
        }


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
) -> PartyOutcome:
    """Our side of the whole job. ``agreed``: the handshake already ran (``vfl serve``)."""
    from vfl.runtime.handshake import answer, propose, same_job

    t0 = time.perf_counter()
    if not agreed:
        if channel.me == spec.order[0]:
            propose(channel, spec)
        else:
            answer(channel, spec.order[0], same_job(spec))
    aligned = align_party(channel, table, spec.order)
    seconds = {"psi": time.perf_counter() - t0}
    out = PartyOutcome(
        name=channel.me,
        aligned_ids=aligned.table.ids,
        intersection=aligned.psi.size,
        seconds=seconds,
        bytes_sent=0,
        psi_scalar_mults=aligned.psi.scalar_mults,
    )
    if spec.model != "none":
        assert spec.active is not None
        kind = MODELS[spec.model]
        params = make_params(spec.model, spec.he, spec.seed, spec.model_params)
        train_rows, test_rows = split_rows(aligned.psi.size, spec.test_size, spec.seed)
        train, test = aligned.table.take(train_rows), aligned.table.take(test_rows)
        t1 = time.perf_counter()
        out.model = kind.fit(channel, train, active=spec.active, params=params, progress=progress)
        seconds["train"] = time.perf_counter() - t1
        t2 = time.perf_counter()
        p_train = kind.predict(channel, out.model, train)
        p_test = kind.predict(channel, out.model, test) if len(test_rows) else None
        seconds["predict"] = time.perf_counter() - t2
        out.fit_stats = dict(getattr(out.model, "fit_stats", {}) or {})
        if channel.me == spec.active and p_train is not None:
            assert train.label is not None and test.label is not None
            out.metrics = {f"train_{k}": v for k, v in binary_metrics(train.label, p_train).items()}
            if p_test is not None:
                out.metrics.update({f"test_{k}": v for k, v in binary_metrics(test.label, p_test).items()})
    out.bytes_sent = channel.stats.total_bytes_sent
    seconds["total"] = time.perf_counter() - t0
    return out
