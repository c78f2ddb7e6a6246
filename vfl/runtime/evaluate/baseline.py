"""Centralised baselines on the pooled rows: what the federation should match.

Only a simulation can compute these (it holds every party's rows); a deployment cannot.
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from vfl.data.table import PartyTable
from vfl.report.curves import roc_points
from vfl.runtime.evaluate.metrics import model_metrics, objective_of

__all__ = ["centralised_baseline"]


def logistic_regression(
    params: dict[str, Any], x: np.ndarray, y: np.ndarray
) -> Callable[[np.ndarray], np.ndarray]:
    """scikit-learn's LogisticRegression (C=1.0) on standardised pooled columns."""
    est = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    est.fit(x, y)
    return lambda rows: est.predict_proba(rows)[:, 1]


def xgboost_hist(
    params: dict[str, Any], x: np.ndarray, y: np.ndarray, offset: np.ndarray | None = None
) -> Callable[..., np.ndarray]:
    """xgboost hist with SecureBoost's hyper-parameters and objective (its defaults where the job
    sets none), the same base score (xgboost's: the label mean; 0.5 for multi-class, as
    SecureBoost) and the same per-row offset as ``base_margin``. The returned predictor takes
    the rows (and their offset) and gives what SecureBoost's predict gives: P(y=1), class
    probabilities (n, K), values or means."""
    import xgboost as xgb

    from vfl.runtime.models.registry import MODELS

    p = {**MODELS["sbt"].param_defaults(), **params}
    objective = str(p["objective"])
    kw: dict[str, Any] = {
        "n_estimators": p["n_estimators"],
        "max_depth": p["max_depth"],
        "learning_rate": p["learning_rate"],
        "min_child_weight": p["min_child_weight"],
        "reg_lambda": p["reg_lambda"],
        "gamma": p["gamma"],
        "max_bin": p["max_bin"],
        "tree_method": "hist",
        "n_jobs": 2,
    }
    if p.get("max_leaves") is not None:
        kw["max_leaves"] = p["max_leaves"]
    if p.get("base_score") is not None:
        kw["base_score"] = p["base_score"]
    if objective == "binary:logistic":
        est: Any = xgb.XGBClassifier(**kw)
    elif objective.startswith("multi:"):
        est = xgb.XGBClassifier(objective="multi:softprob", **{"base_score": 0.5, **kw})
    else:
        if objective == "reg:tweedie":
            kw["tweedie_variance_power"] = p["tweedie_variance_power"]
        est = xgb.XGBRegressor(objective=objective, **kw)
    est.fit(x, y, base_margin=offset)

    def predict(rows: np.ndarray, offset: np.ndarray | None = None) -> np.ndarray:
        if objective == "binary:logistic":
            return np.asarray(est.predict_proba(rows, base_margin=offset)[:, 1])
        if objective.startswith("multi:"):
            return np.asarray(est.predict_proba(rows, base_margin=offset))
        return np.asarray(est.predict(rows, base_margin=offset))

    return predict


def centralised_baseline(
    model: str,
    params: dict[str, Any],
    aligned: list[PartyTable],
    train_rows: np.ndarray,
    test_rows: np.ndarray,
) -> dict[str, Any]:
    """Fit the centralised counterpart (scikit-learn LR or xgboost hist with the same objective)
    on the same split, with the label holder's offset where it has one; the metrics have the
    federated model's keys. Binary only: the test ROC comes back under "curve" and the scores
    under "test_scores"."""
    x = np.hstack([t.features for t in aligned])
    holder = next(t for t in aligned if t.label is not None)
    y, offset = holder.label, holder.offset
    assert y is not None
    from vfl.runtime.models.registry import model_kind

    fit: Callable[..., Callable[..., np.ndarray]] = model_kind(model).baseline
    task = SimpleNamespace(**{"objective": "binary:logistic", **params})  # what model_metrics reads
    if offset is None:
        predict = fit(params, x[train_rows], y[train_rows])
        p_tr, p_te = predict(x[train_rows]), predict(x[test_rows])
    else:
        predict = fit(params, x[train_rows], y[train_rows], offset=offset[train_rows])
        p_tr, p_te = predict(x[train_rows], offset[train_rows]), predict(x[test_rows], offset[test_rows])
    out: dict[str, Any] = {f"train_{k}": v for k, v in model_metrics(task, y[train_rows], p_tr).items()}
    if len(test_rows):
        out.update({f"test_{k}": v for k, v in model_metrics(task, y[test_rows], p_te).items()})
        if objective_of(task) == "binary:logistic":
            out["curve"] = {**roc_points(y[test_rows], p_te), "split": "test"}
            out["test_scores"] = p_te  # for the paired comparison; the caller keeps it out of summary.json
    return out
