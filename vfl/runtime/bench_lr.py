"""`vfl bench lr`: vertical LR against scikit-learn on the same rows, in one run.

Parties run as threads over an in-memory hub (the bytes and checks are those of the network
transport). The FATE split files share their ids, so alignment is a pandas join here (no PSI).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vfl.core.errors import DataError
from vfl.core.jobs import new_job_id
from vfl.data.datasets import fate_pair
from vfl.data.table import PartyTable
from vfl.runtime.lr_job import LRParams, LRPartyModel, fit_lr_party, predict_lr_party
from vfl.transport.channel import Channel
from vfl.transport.memory import MemoryHub

__all__ = [
    "default_lr_data",
    "load_aligned",
    "run_lr_bench",
    "run_parties",
    "stratified_split",
]

LABEL = "y"
ID = "id"


def default_lr_data(repo_root: Path | None = None) -> dict[str, Path]:
    """default_credit guest (label) + host: FATE's split, shipped inside the package."""
    guest, host = fate_pair("default_credit")
    return {"guest": guest, "host": host}


def load_aligned(data: dict[str, Path]) -> tuple[list[PartyTable], str]:
    """Read each party's CSV, keep the ids every file holds (in the label file's order), and
    return the tables in that shared order plus the name of the party holding label ``y``."""
    frames = {}
    for name, path in data.items():
        if not Path(path).is_file():
            raise DataError(f"{name}'s data file {path} does not exist", "pass --data NAME=PATH")
        df = pd.read_csv(path)
        if ID not in df.columns:
            raise DataError(f"{path} has no '{ID}' column", "the FATE files carry an 'id' column")
        frames[name] = df.set_index(df[ID].astype(str)).drop(columns=[ID])
        if not frames[name].index.is_unique:
            raise DataError(f"{path} repeats some ids", "remove duplicate rows first")
    holders = [n for n, df in frames.items() if LABEL in df.columns]
    if len(holders) != 1:
        raise DataError(f"{len(holders)} files hold a '{LABEL}' column", "exactly one party holds y")
    shared = set.intersection(*(set(df.index) for df in frames.values()))
    common = [i for i in frames[holders[0]].index if i in shared]  # the label file's order
    if not common:
        raise DataError("the files share no ids", "check that they describe the same people")
    tables = []
    for name, df in frames.items():
        df = df.loc[common]
        label = df.pop(LABEL).to_numpy(dtype=np.float64) if name == holders[0] else None
        tables.append(PartyTable(name=name, ids=np.asarray(common, dtype=object),
                                 features=df.to_numpy(dtype=np.float64),
                                 feature_names=[str(c) for c in df.columns], label=label,
                                 label_name=LABEL if label is not None else None,
                                 source=str(data[name])))
    return tables, holders[0]


def stratified_split(y: np.ndarray, test_size: float = 0.2, seed: int = 42) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split

    tr, te = train_test_split(np.arange(len(y)), test_size=test_size, stratify=y, random_state=seed)
    return np.sort(tr), np.sort(te)


def run_parties(names: list[str], fn: Callable[[Channel], Any], job_id: str | None = None) -> dict[str, Any]:
    """Run ``fn(channel)`` for every party in its own thread over one MemoryHub."""
    hub = MemoryHub(names, job_id or new_job_id())
    out: dict[str, Any] = {}
    errors: dict[str, BaseException] = {}

    def one(name: str) -> None:
        try:
            out[name] = fn(hub.channel(name))
        except BaseException as exc:
            errors[name] = exc
            hub.mark_dead(name, f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=one, args=(n,), name=f"lr-{n}") for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        first = next(iter(e for e in errors.values() if not _is_peer_error(e)), next(iter(errors.values())))
        raise first
    return out


def _is_peer_error(exc: BaseException) -> bool:
    from vfl.core.errors import PeerError

    return isinstance(exc, PeerError)


def run_lr_bench(data: dict[str, Path], he_names: list[str], params: LRParams) -> dict[str, Any]:
    """Fit vfl LR once per HE scheme and sklearn once, on the same stratified 80/20 split."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    tables, active = load_aligned(data)
    by_name = {t.name: t for t in tables}
    y = by_name[active].label
    assert y is not None
    tr, te = stratified_split(y)
    names = [t.name for t in tables]

    pooled = np.hstack([t.features for t in tables])
    t0 = time.perf_counter()
    sk = LogisticRegression(max_iter=1000).fit(pooled[tr], y[tr])
    sk_seconds = time.perf_counter() - t0
    baseline = {
        "model": "scikit-learn LogisticRegression (lbfgs, pooled rows)",
        "fit_seconds": round(sk_seconds, 4),
        "train_auc": float(roc_auc_score(y[tr], sk.decision_function(pooled[tr]))),
        "test_auc": float(roc_auc_score(y[te], sk.decision_function(pooled[te]))),
    }
    records = []
    for he in he_names:
        p = replace(params, he=he)
        t0 = time.perf_counter()
        models: dict[str, LRPartyModel] = run_parties(
            names, lambda ch, p=p: fit_lr_party(ch, by_name[ch.me].take(tr), active=active, params=p))
        fit_seconds = time.perf_counter() - t0
        auc = {}
        for split, rows in (("train", tr), ("test", te)):
            scores = run_parties(names, lambda ch, rows=rows, models=models: predict_lr_party(
                ch, models[ch.me], by_name[ch.me].take(rows)))
            auc[split] = float(roc_auc_score(y[rows], scores[active]))
        records.append({
            "he": he,
            "params": asdict(p),
            "parties": {t.name: {"rows": int(t.n_rows), "features": t.n_features} for t in tables},
            "active": active,
            "rows": {"train": len(tr), "test": len(te)},
            "seconds": {"fit": round(fit_seconds, 4),
                        **{n: m.fit_stats["seconds"] for n, m in models.items()}},
            "bytes_sent": {n: m.fit_stats["bytes_sent"] for n, m in models.items()},
            "epochs_run": models[active].fit_stats["epochs_run"],
            "dp": {"epsilon": models[active].fit_stats["dp_epsilon"],
                   "delta": models[active].fit_stats["dp_delta"]},
            "metrics": {"train_auc": auc["train"], "test_auc": auc["test"]},
            "baseline": baseline,
            "test_auc_ratio": auc["test"] / baseline["test_auc"],
        })
    return {"bench": "lr", "data": {k: str(v) for k, v in data.items()}, "split":
            "stratified 80/20, seed 42", "records": records}
