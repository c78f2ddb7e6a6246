"""``vfl simulate``: every party of a job in one process, the same protocol code as a deployment.

Data are validated for all parties before any protocol starts, so bad input stops the run with
nothing written. Outputs: ``OUT/summary.json`` and, per party, only that party's own files.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vfl.core.jobs import new_job_id
from vfl.data.readers import read_party_table
from vfl.data.table import PartyTable
from vfl.runtime.atomic import write_bytes_atomic, write_json_atomic
from vfl.runtime.config import SimulationConfig
from vfl.runtime.local import run_in_memory
from vfl.runtime.psi_job import AlignedParty, align_party
from vfl.transport.channel import Channel, ChannelStats

__all__ = ["PartyRun", "load_tables", "run_psi_only", "simulate"]

Progress = Callable[[str, int, int], None]


@dataclass
class PartyRun:
    aligned: AlignedParty
    stats: ChannelStats
    seconds: dict[str, float]


def load_tables(cfg: SimulationConfig) -> dict[str, PartyTable]:
    """Read and validate every party's file up front (raises DataError naming file and rows)."""
    return {
        p.name: read_party_table(
            p.path,
            name=p.name,
            id_column=cfg.id_column,
            label_column=p.label_column,
            nan_policy=cfg.nan_policy,
            id_rule=cfg.id_rule,
        )
        for p in cfg.parties
    }


def _psi_party(cfg: SimulationConfig, tables: dict[str, PartyTable]) -> Callable[[str, Channel], PartyRun]:
    def work(name: str, channel: Channel) -> PartyRun:
        t0 = time.perf_counter()
        aligned = align_party(channel, tables[name], cfg.order)
        return PartyRun(aligned, channel.stats, {"psi": time.perf_counter() - t0})

    return work


def run_psi_only(cfg: SimulationConfig, tables: dict[str, PartyTable]) -> dict[str, PartyRun]:
    return run_in_memory(cfg.order, new_job_id("psi"), _psi_party(cfg, tables))


def _write_party_outputs(out: Path, runs: dict[str, PartyRun]) -> None:
    for name, run in runs.items():
        ids = "\n".join(["id", *map(str, run.aligned.table.ids)]) + "\n"
        write_bytes_atomic(out / name / "aligned_ids.csv", ids.encode())


def psi_summary(
    cfg: SimulationConfig, tables: dict[str, PartyTable], runs: dict[str, PartyRun]
) -> dict[str, Any]:
    sizes = {r.aligned.psi.size for r in runs.values()}
    assert len(sizes) == 1, "parties disagree on the intersection size"
    first = next(iter(runs.values()))
    order_ok = all(np.array_equal(r.aligned.table.ids, first.aligned.table.ids) for r in runs.values())
    return {
        "parties": {
            n: {"rows": t.n_rows, "features": t.n_features, "label": t.label_name} for n, t in tables.items()
        },
        "intersection": sizes.pop(),
        "aligned_order_agreed": bool(order_ok),
        "psi": {
            "protocol": "n-party ecdh (ristretto255), comparer blinded by a dealer exponent",
            "comparer": cfg.order[0],
            "dealer": cfg.order[1],
            "scalar_mults": int(sum(r.aligned.psi.scalar_mults for r in runs.values())),
        },
        "bytes_sent": {n: r.stats.total_bytes_sent for n, r in runs.items()},
    }


def simulate(cfg: SimulationConfig) -> dict[str, Any]:
    """Run PSI (and, when asked, training) for all parties; write and return summary.json."""
    t0 = time.perf_counter()
    tables = load_tables(cfg)
    runs = run_psi_only(cfg, tables)
    summary = psi_summary(cfg, tables, runs)
    summary.update(
        {
            "dataset": cfg.dataset_note or {n: str(p.path) for n, p in ((p.name, p) for p in cfg.parties)},
            "model": cfg.model,
            "he": cfg.he if cfg.model != "none" else None,
            "transport": cfg.transport,
            "metrics": {},
            "baseline": {},
            "seconds": {
                "psi": max(r.seconds["psi"] for r in runs.values()),
                "total": time.perf_counter() - t0,
            },
        }
    )
    out = Path(cfg.out_dir)
    _write_party_outputs(out, runs)
    write_json_atomic(out / "summary.json", summary)
    return summary
