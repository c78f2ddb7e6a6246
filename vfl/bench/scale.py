"""``vfl bench scale``: one job at growing rows per party (PSI, then SecureBoost and LR on the
aligned rows), on the local executor and on Ray with 1, 2 or 4 workers, printing wall time per
stage, peak RSS, bytes per party and each stage's growth exponent against n (a least-squares
slope of log time on log n: 1.0 is linear).

The training stages run on FATE's default-credit table (30,000 real rows, 23 columns) drawn
with replacement to n rows, its columns dealt to the parties (the first holds the label); the
work is fixed per row (SecureBoost: 2 trees of depth 3 under OU; LR: 3 L-BFGS rounds under the
default CKKS, no early stop) and the keys are made before the clock starts, so the exponent shows
how the per-row work grows.

Every (rows, executor) point runs in a fresh interpreter, so its peak RSS is its own and a Ray
started for one point is gone before the next. The parties of a point share that process (threads
over the in-memory transport), so the RSS printed is all parties together: an upper bound for each.
"""

from __future__ import annotations

import json
import math
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vfl.core.jobs import new_job_id
from vfl.crypto.he import make_scheme
from vfl.data.datasets import fate_frames
from vfl.data.synth import synth_ids
from vfl.data.table import PartyTable
from vfl.executor.base import Executor
from vfl.executor.choose import ComputeConfig, open_executor, using_executor
from vfl.protocols.psi import PsiResult, run_psi
from vfl.protocols.psi.stream import IdBatches, stream_pair_psi
from vfl.runtime.models.lr import LRParams, fit_lr_party
from vfl.runtime.models.sbt import SBTParams, fit_sbt_party
from vfl.runtime.modes.local import run_in_memory
from vfl.transport.channel import Channel

__all__ = [
    "EXECUTOR_CHOICES",
    "MODELS",
    "STAGES",
    "growth_exponents",
    "resampled_tables",
    "run_point",
    "run_scale_bench",
]

# name -> (executor, workers per party); the Ray points run on a local Ray of the same cores
EXECUTOR_CHOICES: dict[str, tuple[str, int | None]] = {
    "local": ("local", None),
    "ray1": ("ray", 1),
    "ray2": ("ray", 2),
    "ray4": ("ray", 4),
}
MODELS = ("sbt", "lr")  # the training stages, after PSI
STAGES = ("ids", "check", "exchange", "order", "psi", *MODELS)
_SBT = SBTParams(n_estimators=2, max_depth=3, he="ou")
_LR = LRParams(solver="lbfgs", max_iter=3, tol=0.0)


def resampled_tables(names: Sequence[str], rows: int, seed: int = 7) -> dict[str, PartyTable]:
    """``rows`` rows of default-credit drawn with replacement, its columns dealt to ``names``."""
    guest, host = fate_frames("default_credit")
    pooled = guest.merge(host, on="id")
    idx = np.random.default_rng(seed).integers(0, len(pooled), rows)
    cols = [c for c in pooled.columns if c not in ("id", "y")]
    x = pooled[cols].to_numpy(np.float64)[idx]
    y = pooled["y"].to_numpy(np.float64)[idx]
    ids = np.char.add("r", np.arange(rows).astype(str)).astype(object)
    out = {}
    for i, (name, part) in enumerate(
        zip(names, np.array_split(np.arange(len(cols)), len(names)), strict=True)
    ):
        out[name] = PartyTable(
            name,
            ids,
            np.ascontiguousarray(x[:, part]),
            [cols[j] for j in part],
            label=y if i == 0 else None,
            label_name="y" if i == 0 else None,
        )
    return out


def _train(model: str, tables: dict[str, PartyTable], execs: dict[str, Executor]) -> tuple[float, int]:
    """One training job on ``tables`` (the first party holds the label) and each party's
    executor, keys made first; returns (wall seconds, most bytes any party sent)."""
    names = list(tables)
    active = names[0]
    scheme = make_scheme(_SBT.he if model == "sbt" else _LR.he)
    sent: dict[str, int] = {}

    def work(name: str, ch: Channel) -> object:
        keys = scheme if name == active else None
        if model == "sbt":
            fit: object = fit_sbt_party(
                ch, tables[name], active=active, params=_SBT, scheme=keys, executor=execs[name]
            )
        else:
            fit = fit_lr_party(ch, tables[name], active=active, params=_LR, scheme=keys, executor=execs[name])
        sent[name] = ch.stats.total_bytes_sent
        return fit

    t = time.perf_counter()
    run_in_memory(names, new_job_id(f"scale-{model}"), work, timeout=7200)
    return time.perf_counter() - t, max(sent.values())


def lazy_ids(party: int, rows: int, overlap: float, batch: int = 65_536) -> IdBatches:
    """Synthetic IDs made batch by batch, never all at once (the streaming point): the first
    ``overlap`` of every party's rows are shared, the rest its own."""
    shared = round(rows * overlap)

    def read() -> Iterator[list[str]]:
        for i in range(0, rows, batch):
            yield [
                f"s{j:010d}" if j < shared else f"p{party}-{j:010d}" for j in range(i, min(rows, i + batch))
            ]

    return read


def run_point(
    parties: int,
    rows: int,
    executor: str,
    cores: int,
    overlap: float = 0.8,
    stream: bool = False,
    models: Sequence[str] = (),
) -> dict[str, Any]:
    """One PSI run in this process: every party on ``executor`` (its own executor each), then
    each of ``models`` trained on as many rows as the intersection holds. With ``stream`` (two
    parties) each party streams its lists from and to disk and its IDs are made batch by batch:
    the peak RSS is then what streaming PSI needs, not the lists'."""
    kind, workers = EXECUTOR_CHOICES[executor]
    names = [f"party{i}" for i in range(parties)]
    t = time.perf_counter()
    ids = [] if stream else synth_ids(rows, parties, overlap, seed=7)
    t_ids = time.perf_counter() - t
    scratch = tempfile.TemporaryDirectory(prefix="vfl-bench-")
    local_cores = ComputeConfig("local", None, cores)  # the local Ray (if any) gets `cores` CPUs
    with using_executor(ComputeConfig(kind, None, cores) if kind == "ray" else local_cores):
        execs = {n: open_executor(ComputeConfig(kind, None, workers or cores)) for n in names}
        sent: dict[str, int] = {}

        def work(name: str, ch: Channel) -> PsiResult:
            i = names.index(name)
            if stream:
                s = stream_pair_psi(
                    ch, lazy_ids(i, rows, overlap), execs[name], rows_path=Path(scratch.name) / f"{name}.npy"
                )
                res = PsiResult(s.rows, s.size, s.own_size, s.seconds, s.scalar_mults, s.hashes, s.stages)
            else:
                res = run_psi(ch, list(ids[i]), names, executor=execs[name])
            sent[name] = ch.stats.total_bytes_sent
            return res

        trained: dict[str, float] = {}
        train_sent: dict[str, int] = {}
        try:
            before = _worker_usage(execs.values())
            cpu0, t = time.process_time(), time.perf_counter()
            res = run_in_memory(names, new_job_id("scale"), work, timeout=7200)
            wall, cpu = time.perf_counter() - t, time.process_time() - cpu0
            after = _worker_usage(execs.values())
            cpu += sum(a[1] for a in after) - sum(b[1] for b in before)
            worker_rss = max((a[0] for a in after), default=0.0)
            if models:  # on the executors PSI used, as a party's job does (run_party_job)
                tables = resampled_tables(names, res[names[0]].size)
                for m in models:
                    trained[m], train_sent[m] = _train(m, tables, execs)
        finally:
            for e in execs.values():
                e.close()
            scratch.cleanup()
    stages = {s: max(r.stages[s] for r in res.values()) for s in ("check", "exchange", "order")}
    return {
        "parties": parties,
        "rows_per_party": rows,
        "executor": executor + ("+stream" if stream else ""),
        "cores": cores,
        "intersection": res[names[0]].size,
        "correct": all(r.size == round(rows * overlap) for r in res.values()),
        "seconds": {"ids": t_ids, **stages, "psi": wall, **trained},
        "cpu_seconds": cpu,  # this process's and its Ray workers': what a loaded box cannot hide
        "bytes_sent_per_party": max(sent.values()),  # PSI
        "bytes_sent_per_party_train": train_sent,
        "peak_rss_mib_all_parties": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "peak_rss_mib_ray_worker": worker_rss,  # one Ray actor's own process (0: no Ray)
        "scalar_mults": sum(r.scalar_mults for r in res.values()),
    }


def _worker_usage(execs: Iterable[Executor]) -> list[tuple[float, float]]:
    """(peak RSS MiB, CPU s) of every Ray worker among ``execs`` (none for local threads)."""
    return [u for e in execs for u in getattr(e, "worker_usage", list)()]


def growth_exponents(points: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Per stage, the slope of log(seconds) on log(rows) over ``points`` (one executor)."""
    out: dict[str, float] = {}
    xs = [math.log(p["rows_per_party"]) for p in points]
    if len(set(xs)) < 2:
        return out
    mx = sum(xs) / len(xs)
    for s in STAGES:
        if not all(s in p["seconds"] for p in points):
            continue
        ys = [math.log(max(p["seconds"][s], 1e-6)) for p in points]
        my = sum(ys) / len(ys)
        out[s] = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
            (x - mx) ** 2 for x in xs
        )
    return out


def run_scale_bench(
    rows: Sequence[int],
    executors: Sequence[str],
    *,
    parties: int = 2,
    cores: int = 2,
    timeout: float = 7200,
    stream: bool = False,
    models: Sequence[str] = (),
) -> dict[str, Any]:
    """Every point in its own interpreter; then the growth exponents per executor."""
    records: list[dict[str, Any]] = []
    for ex in executors:
        for n in rows:
            point = {
                "parties": parties,
                "rows": n,
                "executor": ex,
                "cores": cores,
                "stream": stream,
                "models": list(models),
            }
            args = json.dumps(point)
            proc = subprocess.run(
                [sys.executable, "-m", "vfl.bench.scale", args],
                capture_output=True,
                text=True,
                timeout=timeout,
            )
            if proc.returncode != 0:
                tail = proc.stderr.strip().splitlines()[-1:] or ["failed"]
                records.append({"executor": ex, "rows_per_party": n, "error": tail[0]})
                continue
            records.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    ok = [r for r in records if "error" not in r]
    labels = list(dict.fromkeys(r["executor"] for r in ok))
    exponents = {ex: growth_exponents([r for r in ok if r["executor"] == ex]) for ex in labels}
    overhead: dict[str, dict[str, float]] = {}
    for r in ok:
        base = next(
            (b for b in ok if b["executor"] == "local" and b["rows_per_party"] == r["rows_per_party"]), None
        )
        if base is not None and r["executor"] != "local":
            overhead[f"{r['executor']}@{r['rows_per_party']}"] = {
                "wall": r["seconds"]["psi"] / base["seconds"]["psi"] - 1,
                "cpu": r["cpu_seconds"] / base["cpu_seconds"] - 1,
                **{m: r["seconds"][m] / base["seconds"][m] - 1 for m in models if m in r["seconds"]},
            }
    return {"records": records, "growth_exponents": exponents, "ray_overhead_vs_local": overhead}


if __name__ == "__main__":  # one point, in its own process: python -m vfl.bench.scale '{...}'
    a = json.loads(sys.argv[1])
    print(
        json.dumps(
            run_point(
                a["parties"],
                a["rows"],
                a["executor"],
                a["cores"],
                stream=a.get("stream", False),
                models=a.get("models", ()),
            )
        )
    )
