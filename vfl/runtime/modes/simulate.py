"""``vfl simulate``: every party of a job in one process, the same protocol code as a deployment.

Data are validated for all parties before any protocol starts, so bad input stops the run with
nothing written. Outputs: ``OUT/summary.json`` and, per party, only that party's own files.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from vfl.core.jobs import new_job_id
from vfl.core.progress import Progress
from vfl.data.readers import read_party_table
from vfl.data.table import PartyTable
from vfl.executor.choose import ComputeConfig, executor_scope, using_executor
from vfl.runtime.evaluate.baseline import centralised_baseline
from vfl.runtime.evaluate.compare import versus_own_data
from vfl.runtime.job.run import PartyOutcome, run_party_job, split_rows
from vfl.runtime.job.spec import JobSpec
from vfl.runtime.models.registry import MODELS, NO_MODEL
from vfl.runtime.modes.config import SimulationConfig
from vfl.runtime.modes.local import run_in_memory
from vfl.runtime.modes.outputs import read_aligned_ids, write_party_outputs
from vfl.runtime.modes.processes import run_as_processes, write_federation
from vfl.runtime.store.atomic import write_json_atomic
from vfl.transport.channel import Channel

__all__ = ["add_baseline", "job_spec", "load_tables", "simulate", "summarise"]


def load_tables(cfg: SimulationConfig) -> dict[str, PartyTable]:
    """Read and validate every party's file up front (raises DataError naming file and rows);
    a folder of Parquet shards on this process's executor (``--executor``)."""
    with executor_scope(None) as executor:
        return {
            p.name: read_party_table(
                p.path,
                name=p.name,
                id_column=cfg.id_column,
                label_column=p.label_column,
                offset_column=p.offset_column,
                nan_policy=cfg.nan_policy,
                id_rule=cfg.id_rule,
                ids_only=cfg.model == NO_MODEL,  # alignment needs the IDs only (vfl psi)
                map_shards=executor.map,
            )
            for p in cfg.parties
        }


def job_spec(cfg: SimulationConfig, job_id: str | None = None) -> JobSpec:
    return JobSpec.create(
        job_id=job_id or new_job_id("sim"),
        parties=[p.name for p in cfg.parties],
        active=cfg.active,
        model=cfg.model,
        he=cfg.he,
        test_size=cfg.test_size,
        seed=cfg.seed,
        model_params=dict(cfg.model_params),
        device=cfg.device,
    )


def summarise(
    cfg: SimulationConfig,
    spec: JobSpec,
    tables: dict[str, PartyTable],
    outcomes: dict[str, dict[str, Any]],
    total_s: float,
) -> dict[str, Any]:
    """summary.json from each party's own report (the same whether parties ran in threads or
    as separate processes)."""
    sizes = {o["intersection"] for o in outcomes.values()}
    if len(sizes) != 1:
        raise AssertionError(f"parties disagree on the intersection size: {sizes}")
    active = spec.active
    kind = MODELS.get(spec.model)
    # the label holder's split of its own wall time: it is on the critical path of every round
    fit = outcomes[active]["fit_stats"].get("seconds", {}) if active and kind else {}
    seconds = {
        "psi": max(o["seconds"]["psi"] for o in outcomes.values()),
        "train": max(o["seconds"].get("train", 0.0) for o in outcomes.values()),
        "total": total_s,
    }
    for part in ("crypto", "compute", "network"):
        if fit.get(part) is not None:
            seconds[part] = float(fit[part])
    return {
        "parties": {
            n: {"rows": t.n_rows, "features": t.n_features, "label": t.label_name} for n, t in tables.items()
        },
        "intersection": sizes.pop(),
        "dataset": cfg.dataset_note or {p.name: str(p.path) for p in cfg.parties},
        "model": spec.model,
        "model_title": kind.title if kind else "Private set intersection",
        "he": spec.he if kind else None,
        "transport": cfg.transport,
        "device": cfg.device,
        "active": active,
        "test_size": cfg.test_size,
        "seed": cfg.seed,
        "metrics": outcomes[active]["metrics"] if active and kind else {},
        "baseline": {},
        "seconds": seconds,
        "bytes_sent": {n: o["bytes_sent"] for n, o in outcomes.items()},
        # each party's own process over gRPC; in memory every party is this one process
        "peak_rss_mib": {n: round(float(o.get("peak_rss_mib") or 0.0), 1) for n, o in outcomes.items()},
        "peak_rss_scope": "each party's process" if cfg.transport == "grpc" else "all parties, one process",
        "psi": {
            "protocol": "n-party ecdh on ristretto255; comparer blinded by a dealer exponent",
            "comparer": spec.order[0],
            "dealer": spec.order[1],
            "scalar_mults": int(sum(o["psi_scalar_mults"] for o in outcomes.values())),
        },
        "fit_stats": {n: o["fit_stats"] for n, o in outcomes.items() if o["fit_stats"]},
        "report": {"contribution": kind.contribution} if kind else {},
    }


def add_baseline(
    summary: dict[str, Any],
    cfg: SimulationConfig,
    spec: JobSpec,
    tables: dict[str, PartyTable],
    aligned_ids: np.ndarray,
    test_scores: np.ndarray | None = None,
) -> None:
    """Centralised model on the same aligned rows and split (simulation only: it sees all rows).
    With the federated model's ``test_scores`` (in-memory runs), also whether it beats the label
    holder's own-data model beyond the test set's noise."""
    if not spec.trains:
        return
    aligned = []
    for name in spec.order:
        t = tables[name]
        pos = {x: i for i, x in enumerate(t.ids)}
        aligned.append(t.take(np.array([pos[x] for x in aligned_ids], dtype=np.int64)))
    train_rows, test_rows = split_rows(len(aligned_ids), cfg.test_size, cfg.seed)
    summary["baseline"] = centralised_baseline(cfg.model, cfg.model_params, aligned, train_rows, test_rows)
    summary["baseline"].pop("test_scores", None)
    summary["baseline"]["model"] = MODELS[spec.model].baseline_title
    # what each party's columns are worth alone (with the label): the case for federating
    label = next(t.label for t in aligned if t.label is not None)
    own = {}
    for t in aligned:
        alone = replace(t, label=label, label_name="label")
        m = centralised_baseline(cfg.model, cfg.model_params, [alone], train_rows, test_rows)
        own[t.name] = {k: v for k, v in m.items() if k in ("train_auc", "test_auc")}
        if t.name == spec.active and test_scores is not None and "test_scores" in m:
            y_test = label[test_rows]
            if len(np.unique(y_test)) == 2:
                summary["vs_own_data"] = versus_own_data(y_test, test_scores, m["test_scores"], t.name)
    summary["own_data_only"] = {n: v for n, v in own.items() if v}  # AUCs: binary tasks only


def _in_memory(
    cfg: SimulationConfig,
    spec: JobSpec,
    tables: dict[str, PartyTable],
    progress: Callable[[str], Progress] | None = None,
) -> tuple[dict[str, dict[str, Any]], dict[str, np.ndarray], np.ndarray | None]:
    """Parties as threads; their outcomes stay in memory (each party's files are still written)."""

    def work(name: str, channel: Channel) -> PartyOutcome:
        return run_party_job(spec, tables[name], channel, progress(name) if progress else None)

    runs = run_in_memory(list(spec.order), spec.job_id, work)
    for r in runs.values():
        write_party_outputs(Path(cfg.out_dir), r)
    scores = runs[spec.active].test_scores if spec.active else None
    return {n: r.to_dict() for n, r in runs.items()}, {n: r.aligned_ids for n, r in runs.items()}, scores


def _as_processes(
    cfg: SimulationConfig, spec: JobSpec
) -> tuple[dict[str, dict[str, Any]], dict[str, np.ndarray]]:
    """Parties as ``vfl run`` processes: what each reports comes back through its files."""
    out = Path(cfg.out_dir)
    with tempfile.TemporaryDirectory(prefix="vfl-federation-") as tmp:
        job = write_federation(cfg, spec, Path(tmp), out)
        outcomes = run_as_processes(job, list(spec.order), out)
    return outcomes, {n: read_aligned_ids(out / n / "aligned_ids.csv") for n in spec.order}


def simulate(cfg: SimulationConfig, progress: Callable[[str], Progress] | None = None) -> dict[str, Any]:
    """Run PSI (and, when asked, training) for all parties; write and return summary.json.

    ``transport="memory"`` runs the parties as threads; ``"grpc"`` as separate processes over
    gRPC with mutual TLS on loopback. Both run the same per-party job code.
    """
    t0 = time.perf_counter()
    spec = job_spec(cfg)
    test_scores = None
    if cfg.transport == "memory":
        with using_executor(ComputeConfig(cfg.executor)):  # one local Ray for all, when ray
            tables = load_tables(cfg)
            outcomes, ids, test_scores = _in_memory(cfg, spec, tables, progress)
    else:
        tables = load_tables(cfg)
        outcomes, ids = _as_processes(cfg, spec)
    out = Path(cfg.out_dir)
    summary = summarise(cfg, spec, tables, outcomes, time.perf_counter() - t0)
    summary["aligned_order_agreed"] = all(np.array_equal(v, ids[spec.order[0]]) for v in ids.values())
    add_baseline(summary, cfg, spec, tables, ids[spec.order[0]], test_scores)
    model_curve = outcomes[spec.active].get("curve") if spec.active else None
    if model_curve and "curve" in summary["baseline"]:
        summary["curves"] = {"model": model_curve, "baseline": summary["baseline"].pop("curve")}
    write_json_atomic(out / "summary.json", summary)
    return summary
