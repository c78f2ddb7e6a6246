"""`vfl bench lr`: vertical LR against scikit-learn on the same rows, in one run.

Parties run as threads over an in-memory hub (the bytes and checks are those of the network
transport). The FATE split files share their ids, so alignment is a pandas join here (no PSI).
"""

from __future__ import annotations

import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np

from vfl.bench.harness import default_data, load_aligned, run_parties, stratified_split
from vfl.runtime.models.lr import LRParams, LRPartyModel, fit_lr_party, predict_lr_party

__all__ = ["default_data", "run_lr_bench"]


def run_lr_bench(data: dict[str, Path], he_names: list[str], params: LRParams) -> dict[str, Any]:
    """Fit vfl LR once per HE scheme and sklearn once, on the same stratified 80/20 split.
    The baseline is what vfl's defaults are equivalent to: ``StandardScaler`` then
    ``LogisticRegression(C=1.0)`` (lbfgs), with the iterations it needed."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss, roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    tables, active = load_aligned(data)
    by_name = {t.name: t for t in tables}
    y = by_name[active].label
    assert y is not None
    tr, te = stratified_split(y)
    names = [t.name for t in tables]

    pooled = np.hstack([t.features for t in tables])
    t0 = time.perf_counter()
    sk = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(pooled[tr], y[tr])
    sk_seconds = time.perf_counter() - t0
    baseline: dict[str, Any] = {
        "model": "scikit-learn StandardScaler + LogisticRegression (C=1, lbfgs, pooled rows)",
        "fit_seconds": round(sk_seconds, 4),
        "n_iter": int(sk[-1].n_iter_[0]),
        "train_auc": float(roc_auc_score(y[tr], sk.decision_function(pooled[tr]))),
        "test_auc": float(roc_auc_score(y[te], sk.decision_function(pooled[te]))),
        "test_log_loss": float(log_loss(y[te], sk.predict_proba(pooled[te])[:, 1])),
    }
    records = []
    for he in he_names:
        p = replace(params, he=he)
        t0 = time.perf_counter()

        def fit(ch: Any, p: LRParams = p) -> LRPartyModel:
            return fit_lr_party(ch, by_name[ch.me].take(tr), active=active, params=p)

        models: dict[str, LRPartyModel] = run_parties(names, fit)
        fit_seconds = time.perf_counter() - t0
        auc, test_loss = {}, 0.0
        for split, rows in (("train", tr), ("test", te)):

            def score(ch: Any, rows: np.ndarray = rows, models: dict[str, LRPartyModel] = models) -> Any:
                return predict_lr_party(ch, models[ch.me], by_name[ch.me].take(rows))

            scores = run_parties(names, score)
            auc[split] = float(roc_auc_score(y[rows], scores[active]))
            test_loss = float(log_loss(y[rows], scores[active]))  # the test split comes last
        records.append(
            {
                "he": he,
                "params": asdict(p),
                "parties": {t.name: {"rows": int(t.n_rows), "features": t.n_features} for t in tables},
                "active": active,
                "rows": {"train": len(tr), "test": len(te)},
                "seconds": {
                    "fit": round(fit_seconds, 4),
                    **{n: m.fit_stats["seconds"] for n, m in models.items()},
                },
                "bytes_sent": {n: m.fit_stats["bytes_sent"] for n, m in models.items()},
                "epochs_run": models[active].fit_stats["epochs_run"],
                **{
                    k: models[active].fit_stats[k]
                    for k in ("solver", "n_iter", "rounds", "seconds_per_round")
                },
                "dp": {
                    "epsilon": models[active].fit_stats["dp_epsilon"],
                    "delta": models[active].fit_stats["dp_delta"],
                },
                "metrics": {"train_auc": auc["train"], "test_auc": auc["test"], "test_log_loss": test_loss},
                "baseline": baseline,
                "test_auc_ratio": auc["test"] / baseline["test_auc"],
            }
        )
    return {
        "bench": "lr",
        "data": {k: str(v) for k, v in data.items()},
        "split": "stratified 80/20, seed 42",
        "records": records,
    }
