"""Centralised baselines on the pooled rows: what the federation should match.

Only a simulation can compute these (it holds every party's rows); a deployment cannot.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from vfl.data.table import PartyTable
from vfl.report.curves import roc_points
from vfl.runtime.evaluate.metrics import binary_metrics

__all__ = ["centralised_baseline"]


def _fit_predict(
    model: str, params: dict[str, Any], x_tr: np.ndarray, y_tr: np.ndarray, xs: list[np.ndarray]
) -> list[np.ndarray]:
    if model == "lr":
        est = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
        est.fit(x_tr, y_tr)
        return [est.predict_proba(x)[:, 1] for x in xs]
    import xgboost as xgb

    est = xgb.XGBClassifier(
        n_estimators=params.get("n_estimators", 5),
        max_depth=params.get("max_depth", 3),
        learning_rate=params.get("learning_rate", 0.3),
        min_child_weight=params.get("min_child_weight", 1.0),
        reg_lambda=params.get("reg_lambda", 1.0),
        gamma=params.get("gamma", 0.0),
        max_bin=params.get("max_bin", 32),
        tree_method="hist",
        n_jobs=2,
    )
    est.fit(x_tr, y_tr)
    return [est.predict_proba(x)[:, 1] for x in xs]


def centralised_baseline(
    model: str,
    params: dict[str, Any],
    aligned: list[PartyTable],
    train_rows: np.ndarray,
    test_rows: np.ndarray,
) -> dict[str, Any]:
    """Fit the centralised counterpart (scikit-learn LR or xgboost hist) on the same split; the
    test ROC comes back under "curve"."""
    x = np.hstack([t.features for t in aligned])
    y = next(t.label for t in aligned if t.label is not None)
    assert y is not None
    p_tr, p_te = _fit_predict(model, params, x[train_rows], y[train_rows], [x[train_rows], x[test_rows]])
    out = {f"train_{k}": v for k, v in binary_metrics(y[train_rows], p_tr).items()}
    if len(test_rows):
        out.update({f"test_{k}": v for k, v in binary_metrics(y[test_rows], p_te).items()})
        out["curve"] = {**roc_points(y[test_rows], p_te), "split": "test"}
    return out
