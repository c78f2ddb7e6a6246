"""PSI benchmark: throughput against this machine's floor, and openmined-psi as a baseline,
all measured in the same run.

Floor = scalar multiplications the run performed / (single-core rate measured now x cores). The
single-core rate is timed on the calibrating thread's own CPU clock, so a busy box (other jobs on
the cores) does not make the floor look lower than the hardware's; the run's CPU seconds over the
floor's CPU seconds is printed too, which is what the code costs whatever else runs. The group
floor adds the hashes to the group (libsodium's from_hash, at their measured rate): with two
parties they are one hash per two multiplications, about 14 % of the floor, which no schedule can
hide on fully used cores.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import textwrap
import time
from typing import Any

from vfl.core.jobs import new_job_id
from vfl.crypto.psi_group import Scalar
from vfl.data.synth import synth_ids
from vfl.executor.local import LocalExecutor
from vfl.protocols.psi import run_psi
from vfl.runtime.modes.local import run_in_memory
from vfl.transport.channel import Channel

__all__ = ["bench_openmined", "bench_vfl_psi", "run_psi_bench", "single_core_rate", "single_core_rates"]


def single_core_rates(samples: int = 20_000) -> tuple[float, float]:
    """(scalar multiplications, hashes to the group) per CPU second on one core, through the
    executor's code path (one thread: the map runs inline, so the thread's clock times it)."""
    with LocalExecutor(threads=1) as g:
        ids = [f"calibrate-{i}" for i in range(samples)]
        t = time.thread_time()
        pts = g.hash_to_group(ids, b"bench")
        hashing = time.thread_time() - t
        t = time.thread_time()
        g.exp(pts, Scalar.random())
        return samples / (time.thread_time() - t), samples / hashing


def single_core_rate(samples: int = 20_000) -> float:
    """Scalar multiplications per CPU second on one core."""
    return single_core_rates(samples)[0]


def bench_vfl_psi(parties: int, rows: int, overlap: float, cores: int) -> dict[str, Any]:
    ids = synth_ids(rows, parties, overlap, seed=7)
    names = [f"party{i}" for i in range(parties)]

    def work(name: str, ch: Channel) -> Any:
        return run_psi(ch, list(ids[names.index(name)]), names, threads=cores)

    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cpu0, t = time.process_time(), time.perf_counter()
    res = run_in_memory(names, new_job_id("bench"), work, timeout=3600)
    wall, cpu = time.perf_counter() - t, time.process_time() - cpu0
    mults = sum(r.scalar_mults for r in res.values())
    size = res[names[0]].size
    expected = round(rows * overlap)
    return {
        "system": "vfl",
        "parties": parties,
        "rows_per_party": rows,
        "overlap": overlap,
        "intersection": size,
        "intersection_expected": expected,
        "correct": size == expected and all(r.size == size for r in res.values()),
        "seconds": wall,
        "cpu_seconds": cpu,
        "hashes": sum(r.hashes for r in res.values()),
        "rows_per_s": parties * rows / wall,
        "scalar_mults": mults,
        "peak_rss_mib_all_parties": max(rss0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1024,
    }


_OPENMINED = textwrap.dedent(
    """
    import json, sys, time
    import private_set_intersection.python as psi
    n, overlap = int(sys.argv[1]), float(sys.argv[2])
    shared = int(n * overlap)
    client_items = [f"S{i}" for i in range(n)]
    server_items = [f"S{i}" for i in range(shared)] + [f"T{i}" for i in range(n - shared)]
    t = time.perf_counter()
    c = psi.client.CreateWithNewKey(True)
    s = psi.server.CreateWithNewKey(True)
    setup = s.CreateSetupMessage(1e-9, len(client_items), server_items, psi.DataStructure.RAW)
    req = c.CreateRequest(client_items)
    resp = s.ProcessRequest(req)
    inter = c.GetIntersection(setup, resp)
    print(json.dumps({"seconds": time.perf_counter() - t, "intersection": len(inter)}))
    """
)


def bench_openmined(rows: int, overlap: float, python: str | None) -> dict[str, Any]:
    """openmined-psi (2 parties) in its own interpreter: its wheel pins an older protobuf."""
    exe = python or os.environ.get("VFL_OPENMINED_PYTHON") or sys.executable
    proc = subprocess.run(
        [exe, "-c", _OPENMINED, str(rows), str(overlap)], capture_output=True, text=True, timeout=3600
    )
    if proc.returncode != 0:
        return {
            "system": "openmined-psi",
            "error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed",
            "hint": "python -m venv /tmp/ompsi && /tmp/ompsi/bin/pip install openmined-psi, "
            "then pass --openmined-python /tmp/ompsi/bin/python",
        }
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    return {
        "system": "openmined-psi",
        "parties": 2,
        "rows_per_party": rows,
        "overlap": overlap,
        "intersection": out["intersection"],
        "seconds": out["seconds"],
        "rows_per_s": 2 * rows / out["seconds"],
    }


def run_psi_bench(
    parties: int,
    rows: int,
    overlap: float,
    *,
    cores: int = 2,
    baseline_rows: int = 100_000,
    openmined_python: str | None = None,
    baseline: bool = True,
) -> list[dict[str, Any]]:
    rate, hash_rate = single_core_rates()
    records = []
    main = bench_vfl_psi(parties, rows, overlap, cores)
    main["single_core_mults_per_s"] = rate
    main["single_core_hashes_per_s"] = hash_rate
    main["floor_seconds"] = main["scalar_mults"] / (rate * cores)
    main["ratio_to_floor"] = main["seconds"] / main["floor_seconds"]
    main["cpu_ratio_to_floor"] = main["cpu_seconds"] / (main["floor_seconds"] * cores)
    main["group_floor_seconds"] = main["floor_seconds"] + main["hashes"] / (hash_rate * cores)
    main["ratio_to_group_floor"] = main["seconds"] / main["group_floor_seconds"]
    main["load_average_1min"] = os.getloadavg()[0]
    records.append(main)
    if baseline:
        om = bench_openmined(baseline_rows, overlap, openmined_python)
        records.append(om)
        if "seconds" in om:
            ours = bench_vfl_psi(2, baseline_rows, overlap, cores)
            ours["baseline"] = "openmined-psi"
            ours["speedup_vs_openmined"] = om["seconds"] / ours["seconds"]
            ours["correct"] = ours["correct"] and om["intersection"] == ours["intersection"]
            records.append(ours)
    return records
