"""Objectives with xgboost's names and formulas: gradients, hessians, base margins, output
transforms, the training-curve loss and the (g, h) headroom the encrypted histograms need.

Families (``task_of``): ``binary:logistic``; ``multi:softmax`` / ``multi:softprob`` (the same
model: vfl returns class probabilities for both, a classifier's ``predict`` the argmax);
``reg:squarederror``; and the log-link objectives for counts and costs, ``count:poisson``,
``reg:gamma`` and ``reg:tweedie`` (``tweedie_variance_power`` in (1, 2)), whose predictions are
``exp(margin)``.

An optional per-row offset (xgboost's ``base_margin``, on the margin scale: log(exposure) for the
log-link objectives) replaces the scalar base margin, as in xgboost: with an offset the trees
start from the offset alone. It lives at the label holder and is never sent.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from array_api_compat import device as _dev

from vfl.core.errors import ConfigError, DataError

__all__ = [
    "GH_SUM_LIMIT_BITS",
    "GH_VALUE_LIMIT_BITS",
    "LOG_LINK",
    "LOSS_METRIC",
    "MULTICLASS",
    "OBJECTIVES",
    "POISSON_MAX_DELTA_STEP",
    "base_margin",
    "check_labels",
    "check_tweedie_power",
    "gh_shift",
    "grad_hess",
    "initial_margin",
    "n_outputs",
    "sigmoid",
    "softmax",
    "task_of",
    "train_loss",
    "transform_margin",
]

MULTICLASS = ("multi:softmax", "multi:softprob")
LOG_LINK = ("count:poisson", "reg:gamma", "reg:tweedie")
OBJECTIVES = ("binary:logistic", *MULTICLASS, "reg:squarederror", *LOG_LINK)
_EPS_HESS = 1e-16  # xgboost's floor on the logistic and softmax hessians
#: xgboost's default ``max_delta_step`` of count:poisson: it only inflates the hessian
#: (h = exp(m + 0.7)), a safeguard against huge first steps; leaf outputs are not clipped
POISSON_MAX_DELTA_STEP = 0.7
#: sum |g| + sum |h| of one tree's encrypted rows is kept below 2^this, and each |g|, |h| below
#: 2^GH_VALUE_LIMIT_BITS (CKKS refuses sums from 2^32 and values from 2^18; the integer schemes
#: widen their slots instead): see :func:`gh_shift`
GH_SUM_LIMIT_BITS = 30
GH_VALUE_LIMIT_BITS = 16


def _unknown(objective: str) -> ConfigError:
    return ConfigError(f"unknown objective {objective!r}", f"use one of {', '.join(OBJECTIVES)}")


def task_of(objective: str) -> str:
    """What the objective learns: binary, multiclass, regression, count (Poisson), cost
    (Gamma) or tweedie; the evaluation metrics follow from it."""
    tasks = {
        "binary:logistic": "binary",
        "reg:squarederror": "regression",
        "count:poisson": "count",
        "reg:gamma": "cost",
        "reg:tweedie": "tweedie",
    }
    if objective in MULTICLASS:
        return "multiclass"
    if objective not in tasks:
        raise _unknown(objective)
    return tasks[objective]


def check_tweedie_power(rho: float) -> None:
    if not 1.0 < float(rho) < 2.0:
        raise ConfigError(
            f"tweedie_variance_power={rho} is outside (1, 2)", "use e.g. 1.5 (1: Poisson-like, 2: Gamma-like)"
        )


def n_outputs(objective: str, num_class: int | None) -> int:
    """Trees per boosting round: one per class for multi-class, else one."""
    if objective not in OBJECTIVES:
        raise _unknown(objective)
    if objective in MULTICLASS:
        if num_class is None or num_class < 2:
            raise ConfigError(
                f"{objective} needs num_class >= 2",
                "set num_class to the class count, or leave it out to infer it from the labels",
            )
        return int(num_class)
    return 1


def check_labels(objective: str, y: np.ndarray, num_class: int | None) -> None:
    """Refuse labels the objective cannot learn, before any crypto is spent."""
    if np.isnan(y).any():
        raise DataError("the label column has missing values", "drop or impute those rows first")
    if objective == "binary:logistic" and not np.isin(y, (0.0, 1.0)).all():
        raise DataError("binary:logistic needs labels 0/1", "recode the label or pick another objective")
    if objective in MULTICLASS:
        k = n_outputs(objective, num_class)
        if not (np.equal(np.mod(y, 1), 0).all() and y.min() >= 0 and y.max() < k):
            raise DataError(f"{objective} needs integer labels 0..{k - 1}", "recode the label")
    if objective in ("count:poisson", "reg:tweedie") and (y < 0).any():
        raise DataError(
            f"{objective} needs labels >= 0 ({int((y < 0).sum())} are negative)",
            "check the label column (counts and amounts are never negative)",
        )
    if objective in ("count:poisson", "reg:tweedie") and not (y > 0).any():
        raise DataError(f"{objective} needs some labels > 0; every label is 0", "check the label column")
    if objective == "reg:gamma" and (y <= 0).any():
        raise DataError(
            f"reg:gamma needs labels > 0 ({int((y <= 0).sum())} are <= 0)",
            "drop the zero-cost rows (model them with reg:tweedie) or pick another objective",
        )


def base_margin(objective: str, y: np.ndarray, base_score: float | None) -> float:
    """Initial margin from ``base_score`` (output scale), defaulting as xgboost 2.x does: the
    label mean (binary: its logit; Poisson, Gamma, Tweedie: its log), 0.5 for multi-class
    (an equal margin for every class cancels in the softmax)."""
    if objective == "binary:logistic":
        p = float(np.mean(y)) if base_score is None else float(base_score)
        p = min(max(p, 1e-6), 1 - 1e-6)
        return math.log(p / (1 - p))
    if objective == "reg:squarederror":
        return float(np.mean(y)) if base_score is None else float(base_score)
    if objective in LOG_LINK:
        mu = float(np.mean(y)) if base_score is None else float(base_score)
        if not mu > 0:
            raise ConfigError(f"{objective} needs base_score > 0, got {mu}", "leave base_score unset")
        return math.log(mu)
    if objective in MULTICLASS:
        return 0.5 if base_score is None else float(base_score)
    raise _unknown(objective)


def initial_margin(
    objective: str, y: np.ndarray, base_score: float | None, offset: np.ndarray | None
) -> tuple[float, np.ndarray]:
    """(scalar base margin kept in the model, per-row starting margin (n,)). With an offset the
    rows start at the offset and the base is 0, as xgboost ignores base_score when base_margin
    is given; a model so trained scores rows without an offset as offset 0 (one unit of
    exposure for the log-link objectives)."""
    n = len(y)
    if offset is None:
        b = base_margin(objective, y, base_score)
        return b, np.full(n, b)
    off = np.asarray(offset, dtype=np.float64)
    if off.shape != (n,) or not np.isfinite(off).all():
        raise DataError(
            f"the offset column needs one finite number per row ({n} rows)",
            "fill in the offset (log of the exposure) of every row",
        )
    return 0.0, off.copy()


def sigmoid(xp: Any, x: Any) -> Any:
    """Overflow-free logistic function."""
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e))


def softmax(xp: Any, x: Any) -> Any:
    """Row-wise softmax of an (n, K) margin matrix."""
    z = xp.exp(x - xp.max(x, axis=1, keepdims=True))
    return z / xp.sum(z, axis=1, keepdims=True)


def transform_margin(xp: Any, objective: str, margin: Any) -> Any:
    """Margins to predictions: probabilities (binary (n,), multi (n, K)), means (log link:
    exp(margin)) or values."""
    if objective == "binary:logistic":
        return sigmoid(xp, margin)
    if objective in MULTICLASS:
        return softmax(xp, margin)
    if objective in LOG_LINK:
        return xp.exp(margin)
    return margin


#: xgboost's default evaluation metric per objective, the name :func:`train_loss` reports under
LOSS_METRIC = {
    "binary:logistic": "logloss",
    "multi:softmax": "mlogloss",
    "multi:softprob": "mlogloss",
    "reg:squarederror": "rmse",
    "count:poisson": "poisson-nloglik",
    "reg:gamma": "gamma-deviance",
    "reg:tweedie": "tweedie-nloglik",
}


def _onehot(xp: Any, y: Any, margin: Any) -> Any:
    """Class labels ``y`` (n,) as an (n, K) 0/1 matrix of ``margin``'s dtype and device."""
    k = margin.shape[1]
    hit = xp.astype(y, xp.int64)[:, None] == xp.arange(k, device=_dev(margin))[None, :]
    return xp.astype(hit, margin.dtype)


def train_loss(xp: Any, objective: str, y: Any, margin: Any, *, variance_power: float = 1.5) -> float:
    """The objective's xgboost default metric (LOSS_METRIC) at ``margin``: one number per tree
    for the training curve, computed where the margins live."""
    if objective == "binary:logistic":
        p = xp.clip(sigmoid(xp, margin), 1e-15, 1 - 1e-15)
        return float(-xp.mean(y * xp.log(p) + (1 - y) * xp.log(1 - p)))
    if objective in MULTICLASS:
        p_true = xp.sum(softmax(xp, margin) * _onehot(xp, y, margin), axis=1)
        return float(-xp.mean(xp.log(xp.clip(p_true, 1e-15, 1.0))))
    if objective == "reg:squarederror":
        return float(xp.sqrt(xp.mean((margin - y) ** 2)))
    if objective == "count:poisson":  # lgamma(y + 1) + mu - y log(mu)
        from scipy.special import gammaln

        lg = xp.asarray(gammaln(np.asarray(y, dtype=np.float64) + 1.0))
        return float(xp.mean(lg + xp.exp(margin) - y * margin))
    if objective == "reg:gamma":  # xgboost's gamma-deviance: 2 mean(y/mu - log(y/mu) - 1)
        r = y * xp.exp(-margin)
        return float(2 * xp.mean(r - xp.log(r) - 1))
    if objective == "reg:tweedie":
        r = float(variance_power)
        a = y * xp.exp((1 - r) * margin) / (1 - r)
        b = xp.exp((2 - r) * margin) / (2 - r)
        return float(xp.mean(b - a))
    raise _unknown(objective)


def grad_hess(
    xp: Any, objective: str, y: Any, margin: Any, *, variance_power: float = 1.5
) -> tuple[Any, Any]:
    """First and second derivative of the loss per row (and per class for multi-class),
    exactly xgboost's (``src/objective/regression_obj.cu``, ``multiclass_obj.cu``)."""
    if objective == "binary:logistic":
        p = sigmoid(xp, margin)
        return p - y, xp.clip(p * (1 - p), min=_EPS_HESS)
    if objective in MULTICLASS:
        p = softmax(xp, margin)
        return p - _onehot(xp, y, margin), xp.clip(2 * p * (1 - p), min=_EPS_HESS)
    if objective == "reg:squarederror":
        return margin - y, xp.ones_like(margin)
    if objective == "count:poisson":
        return xp.exp(margin) - y, xp.exp(margin + POISSON_MAX_DELTA_STEP)
    if objective == "reg:gamma":
        r = y * xp.exp(-margin)
        return 1 - r, r
    if objective == "reg:tweedie":
        rho = float(variance_power)
        a, b = y * xp.exp((1 - rho) * margin), xp.exp((2 - rho) * margin)
        return b - a, (2 - rho) * b - (1 - rho) * a
    raise _unknown(objective)


def gh_shift(
    g: np.ndarray, h: np.ndarray, limit_bits: int = GH_SUM_LIMIT_BITS, value_bits: int = GH_VALUE_LIMIT_BITS
) -> int:
    """The headroom shift s >= 0: the label holder encrypts (g, h) * 2^-s and multiplies the
    decrypted histograms by 2^s, so that sum |g| + sum |h| < 2^limit_bits and every |g|, |h| <
    2^value_bits whatever the label's scale. Bounds per objective (why only regression can
    need it): binary |g| < 1, h <= 1/4; multi-class |g| < 1, h < 1/2; squared error
    |g| = |margin - y| (the label's scale); Poisson |g| <= mu + y, h = mu e^0.7; Gamma
    |g| <= 1 + y/mu, h = y/mu; Tweedie likewise scale with y mu^(1-rho) and mu^(2-rho). The
    shift stays at the label holder (a power of two: unscaling is exact in floating point)."""
    total = float(np.sum(np.abs(g)) + np.sum(np.abs(h)))
    top = float(max(np.max(np.abs(g), initial=0.0), np.max(np.abs(h), initial=0.0)))
    if not math.isfinite(total):
        raise DataError(
            "the gradients are not finite (the model diverged)",
            "lower learning_rate, or check the label and the offset",
        )
    s = 0
    while total * 2.0**-s >= 2.0**limit_bits or top * 2.0**-s >= 2.0**value_bits:
        s += 1
    return s
