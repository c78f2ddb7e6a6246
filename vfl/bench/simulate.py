"""``vfl bench simulate``: the default ``vfl simulate`` (the embedded data set, every default)
against its floor, measured in the same run: PSI's group work (its scalar multiplications and
hashes to the group at this machine's single-core rates, on the cores PSI uses) plus the job's
training as it ran. What is left is everything else a person waits for: starting Python,
reading the files, PSI's own bookkeeping, the centralised baseline and the report.

The job runs as the README's command does, ``vfl simulate`` in a fresh interpreter, and the wall
time is the whole process's; the rates are taken before and after it and their mean used.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from vfl.bench.psi import single_core_rates

__all__ = ["run_simulate_bench"]


def run_simulate_bench(args: list[str] | None = None) -> dict[str, Any]:
    """One ``vfl simulate`` (plus ``args``) against PSI's group floor plus its training time."""
    cores = min(2, os.cpu_count() or 1)  # PSI's local executor: this machine's cores, at most 2
    before = single_core_rates()
    with tempfile.TemporaryDirectory(prefix="vfl-bench-simulate-") as tmp:
        out = Path(tmp) / "out"
        cmd = [sys.executable, "-m", "vfl", "simulate", "--quiet", "--out", str(out), *(args or [])]
        t = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - t
        if proc.returncode != 0:
            tail = (proc.stderr.strip().splitlines() or ["failed"])[-1]
            raise RuntimeError(f"`vfl simulate` failed: {tail}")
        summary = json.loads((out / "summary.json").read_text())
    after = single_core_rates()
    mult_rate, hash_rate = ((a + b) / 2 for a, b in zip(before, after, strict=True))
    mults = int(summary["psi"]["scalar_mults"])
    hashes = sum(int(p["rows"]) for p in summary["parties"].values())  # each party hashes its own IDs
    psi_floor = (mults / mult_rate + hashes / hash_rate) / cores
    secs = summary["seconds"]
    train = float(secs.get("train", 0.0))
    return {
        "bench": "simulate",
        "command": "vfl simulate " + " ".join(args or []),
        "cores": cores,
        "rates_per_core_second": {"scalar_mult": mult_rate, "hash_to_group": hash_rate},
        "scalar_mults": mults,
        "hashes": hashes,
        "seconds": {
            "wall": wall,
            "psi": float(secs["psi"]),
            "psi_floor": psi_floor,
            "train": train,
            "job_total": float(secs["total"]),
        },
        "psi_over_floor": float(secs["psi"]) / psi_floor,
        "wall_over_floor": wall / (psi_floor + train),
        "metrics": summary.get("metrics", {}),
    }
