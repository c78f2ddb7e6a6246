"""Evaluation metrics on any array namespace (AUC by tie-averaged ranks, as scikit-learn)."""

from __future__ import annotations

from typing import Any

from array_api_compat import device as _dev

from vfl.compute.backend import bincount
from vfl.core.errors import DataError

__all__ = ["accuracy", "auc", "auc_ovr", "rmse"]


def auc(xp: Any, y: Any, score: Any) -> float:
    """Area under the ROC curve (Mann-Whitney U with average ranks for tied scores)."""
    y = xp.astype(y, xp.float64)
    n = score.shape[0]
    order = xp.argsort(score, stable=True)
    s = xp.take(score, order)
    new = xp.concat([xp.ones(1, dtype=xp.int64, device=_dev(s)), xp.astype(s[1:] != s[:-1], xp.int64)])
    group = xp.cumulative_sum(new) - 1
    ones = xp.ones(n, dtype=xp.float64, device=_dev(s))
    counts = bincount(xp, group, ones, int(group[-1]) + 1)
    first = xp.cumulative_sum(counts) - counts + 1
    avg_rank = first + (counts - 1) / 2
    ranks = xp.take(avg_rank, group)
    ys = xp.take(y, order)
    pos = float(xp.sum(ys))
    neg = n - pos
    if pos == 0 or neg == 0:
        raise DataError("AUC needs both classes among the rows", "use a larger or stratified sample")
    return (float(xp.sum(ranks * ys)) - pos * (pos + 1) / 2) / (pos * neg)


def auc_ovr(xp: Any, y: Any, proba: Any) -> float:
    """Macro one-vs-rest AUC for an (n, K) probability matrix (scikit-learn's multi_class='ovr')."""
    k = proba.shape[1]
    yi = xp.astype(y, xp.int64)
    return sum(auc(xp, yi == c, proba[:, c]) for c in range(k)) / k


def rmse(xp: Any, y: Any, pred: Any) -> float:
    return float(xp.sqrt(xp.mean((xp.astype(y, xp.float64) - pred) ** 2)))


def accuracy(xp: Any, y: Any, pred_class: Any) -> float:
    return float(xp.mean(xp.astype(xp.astype(y, xp.int64) == pred_class, xp.float64)))
