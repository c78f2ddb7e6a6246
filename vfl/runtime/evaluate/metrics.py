"""Evaluation figures reported by the label holder and by the centralised baselines.

:func:`task_metrics` is the one key scheme of ``summary.json`` (``metrics`` and ``baseline``
both, prefixed ``train_``/``test_``), per task of the objective:

- binary: ``auc``, ``ks``, ``log_loss``, ``accuracy`` (as :func:`binary_metrics`);
- multi-class: ``accuracy``, ``log_loss`` (the confusion matrix: :func:`confusion`);
- regression: ``rmse``, ``mae``, ``r2``;
- counts and costs (Poisson, Gamma, Tweedie): those three, plus the objective's mean deviance
  (``mean_poisson_deviance``, ``mean_gamma_deviance``, ``mean_tweedie_deviance``) and the
  ``gini`` index pricing actuaries read (ordered Lorenz curve of the observed values).
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    log_loss,
    mean_absolute_error,
    mean_gamma_deviance,
    mean_poisson_deviance,
    mean_squared_error,
    mean_tweedie_deviance,
    r2_score,
    roc_auc_score,
    roc_curve,
)

from vfl.compute.objectives import task_of

__all__ = [
    "binary_metrics",
    "confusion",
    "gini_index",
    "model_details",
    "model_metrics",
    "multiclass_metrics",
    "objective_of",
    "task_metrics",
]

_MEAN_FLOOR = 1e-12  # predicted means are exp(margin) > 0; guard the deviances' logs anyway


def binary_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """AUC, KS, log-loss and accuracy at 0.5 for P(y=1) scores."""
    y = np.asarray(y).astype(int)
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-12, 1 - 1e-12)
    if len(np.unique(y)) < 2:
        return {
            "log_loss": float(log_loss(y, p, labels=[0, 1])),
            "accuracy": float(accuracy_score(y, p >= 0.5)),
        }
    fpr, tpr, _ = roc_curve(y, p)
    return {
        "auc": float(roc_auc_score(y, p)),
        "ks": float(np.max(tpr - fpr)),
        "log_loss": float(log_loss(y, p)),
        "accuracy": float(accuracy_score(y, p >= 0.5)),
    }


def multiclass_metrics(y: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    """Accuracy of the most probable class and the multi-class log-loss."""
    y = np.asarray(y).astype(int)
    p = np.asarray(proba, dtype=np.float64)
    p = np.clip(p, 1e-15, 1.0)
    p = p / p.sum(axis=1, keepdims=True)
    return {
        "accuracy": float(accuracy_score(y, p.argmax(axis=1))),
        "log_loss": float(log_loss(y, p, labels=np.arange(p.shape[1]))),
    }


def confusion(y: np.ndarray, proba: np.ndarray) -> list[list[int]]:
    """Rows: true class 0..K-1; columns: predicted (most probable) class."""
    p = np.asarray(proba)
    k = p.shape[1]
    return confusion_matrix(np.asarray(y).astype(int), p.argmax(axis=1), labels=np.arange(k)).tolist()


def gini_index(y: np.ndarray, prediction: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Gini index of the ordered Lorenz curve: rows sorted from the lowest predicted risk, the
    cumulative share of the observed total against the cumulative share of rows (or of
    ``weights``, e.g. exposure); 1 - 2 * area under it. 0: no ranking power; higher is better
    (as in scikit-learn's insurance-pricing example)."""
    y = np.asarray(y, dtype=np.float64)
    w = np.ones_like(y) if weights is None else np.asarray(weights, dtype=np.float64)
    order = np.argsort(np.asarray(prediction, dtype=np.float64), kind="mergesort")
    yw, ws = (y * w)[order], w[order]
    total = yw.sum()
    if not total > 0:
        return 0.0
    x = np.concatenate([[0.0], np.cumsum(ws) / ws.sum()])
    lorenz = np.concatenate([[0.0], np.cumsum(yw) / total])
    area = float(np.sum((x[1:] - x[:-1]) * (lorenz[1:] + lorenz[:-1]) / 2))
    return 1.0 - 2.0 * area


def _continuous(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    out = {
        "rmse": float(np.sqrt(mean_squared_error(y, pred))),
        "mae": float(mean_absolute_error(y, pred)),
    }
    if len(y) > 1:
        out["r2"] = float(r2_score(y, pred))
    return out


def task_metrics(
    objective: str, y: np.ndarray, prediction: np.ndarray, *, tweedie_variance_power: float = 1.5
) -> dict[str, float]:
    """The metrics of ``objective``'s task for predictions on the output scale (P(y=1),
    class probabilities (n, K), values or means); keys without the ``train_``/``test_`` prefix."""
    task = task_of(objective)
    if task == "binary":
        return binary_metrics(y, prediction)
    if task == "multiclass":
        return multiclass_metrics(y, prediction)
    y = np.asarray(y, dtype=np.float64)
    pred = np.asarray(prediction, dtype=np.float64).reshape(len(y))
    out = _continuous(y, pred)
    if task == "regression":
        return out
    mu = np.maximum(pred, _MEAN_FLOOR)
    if task == "count":
        out["mean_poisson_deviance"] = float(mean_poisson_deviance(y, mu))
    elif task == "cost":
        out["mean_gamma_deviance"] = float(mean_gamma_deviance(y, mu))
    else:
        out["mean_tweedie_deviance"] = float(mean_tweedie_deviance(y, mu, power=tweedie_variance_power))
    out["gini"] = gini_index(y, pred)
    return out


def objective_of(params: object) -> str:
    """A model's objective (models without one, as logistic regression, are binary)."""
    return str(getattr(params, "objective", "binary:logistic"))


def model_metrics(params: object, y: np.ndarray, prediction: np.ndarray) -> dict[str, float]:
    """:func:`task_metrics` for a model's job parameters (objective, Tweedie power)."""
    power = float(getattr(params, "tweedie_variance_power", 1.5))
    return task_metrics(objective_of(params), y, prediction, tweedie_variance_power=power)


def model_details(params: object, y: np.ndarray, prediction: np.ndarray) -> dict[str, object]:
    """What does not fit a float: the multi-class confusion matrix (else nothing)."""
    if task_of(objective_of(params)) != "multiclass":
        return {}
    return {"confusion_matrix": confusion(y, prediction)}
