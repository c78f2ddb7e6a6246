"""Objectives with xgboost's names and formulas: gradients, hessians and output transforms."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from array_api_compat import device as _dev

from vfl.core.errors import ConfigError, DataError

__all__ = [
    "LOSS_METRIC",
    "OBJECTIVES",
    "base_margin",
    "check_labels",
    "grad_hess",
    "n_outputs",
    "sigmoid",
    "softmax",
    "train_loss",
    "transform_margin",
]

OBJECTIVES = ("binary:logistic", "multi:softmax", "reg:squarederror")
_EPS_HESS = 1e-16  # xgboost's floor on the logistic hessian


def n_outputs(objective: str, num_class: int | None) -> int:
    """Trees per boosting round: one per class for multi:softmax, else one."""
    if objective not in OBJECTIVES:
        raise ConfigError(f"unknown objective {objective!r}", f"use one of {', '.join(OBJECTIVES)}")
    if objective == "multi:softmax":
        if num_class is None or num_class < 2:
            raise ConfigError("multi:softmax needs num_class >= 2", "set num_class to the class count")
        return int(num_class)
    return 1


def check_labels(objective: str, y: np.ndarray, num_class: int | None) -> None:
    """Refuse labels the objective cannot learn, before any crypto is spent."""
    if np.isnan(y).any():
        raise DataError("the label column has missing values", "drop or impute those rows first")
    if objective == "binary:logistic" and not np.isin(y, (0.0, 1.0)).all():
        raise DataError("binary:logistic needs labels 0/1", "recode the label or pick another objective")
    if objective == "multi:softmax":
        k = n_outputs(objective, num_class)
        if not (np.equal(np.mod(y, 1), 0).all() and y.min() >= 0 and y.max() < k):
            raise DataError(f"multi:softmax needs integer labels 0..{k - 1}", "recode the label")


def base_margin(objective: str, y: np.ndarray, base_score: float | None) -> float:
    """Initial margin. Default base_score: label mean (binary, regression), 0.5 (multi-class,
    where an equal margin for every class cancels in the softmax)."""
    if objective == "binary:logistic":
        p = float(np.mean(y)) if base_score is None else float(base_score)
        p = min(max(p, 1e-6), 1 - 1e-6)
        return math.log(p / (1 - p))
    if objective == "reg:squarederror":
        return float(np.mean(y)) if base_score is None else float(base_score)
    return 0.5 if base_score is None else float(base_score)


def sigmoid(xp: Any, x: Any) -> Any:
    """Overflow-free logistic function."""
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e))


def softmax(xp: Any, x: Any) -> Any:
    """Row-wise softmax of an (n, K) margin matrix."""
    z = xp.exp(x - xp.max(x, axis=1, keepdims=True))
    return z / xp.sum(z, axis=1, keepdims=True)


def transform_margin(xp: Any, objective: str, margin: Any) -> Any:
    """Margins to predictions: probabilities (binary (n,), multi (n, K)) or values."""
    if objective == "binary:logistic":
        return sigmoid(xp, margin)
    if objective == "multi:softmax":
        return softmax(xp, margin)
    return margin


#: xgboost's default evaluation metric per objective, the name :func:`train_loss` reports under
LOSS_METRIC = {"binary:logistic": "logloss", "multi:softmax": "mlogloss", "reg:squarederror": "rmse"}


def _onehot(xp: Any, y: Any, margin: Any) -> Any:
    """Class labels ``y`` (n,) as an (n, K) 0/1 matrix of ``margin``'s dtype and device."""
    k = margin.shape[1]
    hit = xp.astype(y, xp.int64)[:, None] == xp.arange(k, device=_dev(margin))[None, :]
    return xp.astype(hit, margin.dtype)


def train_loss(xp: Any, objective: str, y: Any, margin: Any) -> float:
    """The objective's xgboost default metric (LOSS_METRIC) at ``margin``: one number per tree
    for the training curve, computed where the margins live."""
    if objective == "binary:logistic":
        p = xp.clip(sigmoid(xp, margin), 1e-15, 1 - 1e-15)
        return float(-xp.mean(y * xp.log(p) + (1 - y) * xp.log(1 - p)))
    if objective == "multi:softmax":
        p_true = xp.sum(softmax(xp, margin) * _onehot(xp, y, margin), axis=1)
        return float(-xp.mean(xp.log(xp.clip(p_true, 1e-15, 1.0))))
    if objective == "reg:squarederror":
        return float(xp.sqrt(xp.mean((margin - y) ** 2)))
    raise ConfigError(f"unknown objective {objective!r}", f"use one of {', '.join(OBJECTIVES)}")


def grad_hess(xp: Any, objective: str, y: Any, margin: Any) -> tuple[Any, Any]:
    """First and second derivative of the loss per row (and per class for multi:softmax)."""
    if objective == "binary:logistic":
        p = sigmoid(xp, margin)
        return p - y, xp.clip(p * (1 - p), min=_EPS_HESS)
    if objective == "multi:softmax":
        p = softmax(xp, margin)
        return p - _onehot(xp, y, margin), xp.clip(2 * p * (1 - p), min=_EPS_HESS)
    if objective == "reg:squarederror":
        return margin - y, xp.ones_like(margin)
    raise ConfigError(f"unknown objective {objective!r}", f"use one of {', '.join(OBJECTIVES)}")
