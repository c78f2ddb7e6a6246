"""Centralised baselines on the pooled rows: what the federation should match.

Only a simulation can compute these (it holds every party's rows); a deployment cannot.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from vfl.data.table import PartyTable
from vfl.report.curves import roc_points
from vfl.runtime.evaluate.metrics import binary_metrics

__all__ = ["centralised_baseline"]


def logistic_regression(params: dict[str, Any], x: np.ndarray, y: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """scikit-learn's LogisticRegression (C=1.0) on standardised pooled columns."""
    est = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    est.fit(x, y)
    return lambda rows: est.predict_proba(rows)[:, 1]


def xgboost_hist(params: dict[str, Any], x: np.ndarray, y: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """xgboost hist with SecureBoost's hyper-parameters (its defaults where the job sets none)."""
    import xgboost as xgb

    from vfl.runtime.models.registry import MODELS

    p = {**MODELS["sbt"].param_defaults(), **params}
    est = xgb.XGBClassifier(
        n_estimators=p["n_estimators"],
        max_depth=p["max_depth"],
        learning_rate=p["learning_rate"],
        min_child_weight=p["min_child_weight"],
        reg_lambda=p["reg_lambda"],
        gamma=p["gamma"],
        max_bin=p["max_bin"],
        tree_method="hist",
        n_jobs=2,
    )
    est.fit(x, y)
    return lambda rows: est.predict_proba(rows)[:, 1]


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
    from vfl.runtime.models.registry import model_kind

    predict = model_kind(model).baseline(params, x[train_rows], y[train_rows])
    p_tr, p_te = predict(x[train_rows]), predict(x[test_rows])
    out: dict[str, Any] = {f"train_{k}": v for k, v in binary_metrics(y[train_rows], p_tr).items()}
    if len(test_rows):
        out.update({f"test_{k}": v for k, v in binary_metrics(y[test_rows], p_te).items()})
        out["curve"] = {**roc_points(y[test_rows], p_te), "split": "test"}
        out["test_scores"] = p_te  # for the paired comparison; the caller keeps it out of summary.json
    return out
