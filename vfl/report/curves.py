"""ROC points small enough to live in summary.json, so that plots and reports can be redrawn from
the summary alone, without the scores (which only the label holder has).

Layout the runtime writes (only a simulation, or the label holder, can compute it)::

    summary["curves"] = {
        "model":    {"fpr": [...], "tpr": [...], "auc": 0.77, "split": "test"},
        "baseline": {"fpr": [...], "tpr": [...], "auc": 0.76, "split": "test"},
    }

Each curve holds at most ``MAX_POINTS`` points, starts at (0, 0) and ends at (1, 1).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from vfl.core.errors import DataError

__all__ = ["MAX_POINTS", "roc_curves", "roc_points"]

MAX_POINTS = 200
_DECIMALS = 5


def _full_roc(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact ROC vertices, one per distinct score (ties move along a diagonal, as they should)."""
    order = np.argsort(-p, kind="mergesort")
    y, p = y[order], p[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(p)), len(p) - 1]
    tps = np.cumsum(y)[last_of_tie]
    fps = (last_of_tie + 1) - tps
    tpr = np.r_[0.0, tps / tps[-1]]
    fpr = np.r_[0.0, fps / fps[-1]]
    return fpr, tpr


def _keep(fpr: np.ndarray, tpr: np.ndarray, max_points: int) -> np.ndarray:
    """Indices of at most ``max_points`` vertices spread evenly along the curve's length, so steep
    and flat stretches both keep their shape; the two ends are always kept."""
    if len(fpr) <= max_points:
        return np.arange(len(fpr))
    arc = np.r_[0.0, np.cumsum(np.hypot(np.diff(fpr), np.diff(tpr)))]
    targets = np.linspace(0.0, arc[-1], max_points)
    idx = np.searchsorted(arc, targets, side="left").clip(0, len(arc) - 1)
    return np.unique(np.r_[0, idx, len(fpr) - 1])


def roc_points(y: ArrayLike, p: ArrayLike, *, max_points: int = MAX_POINTS) -> dict[str, Any]:
    """ROC of scores ``p`` for binary labels ``y``: {"fpr", "tpr", "auc"}, at most ``max_points``.

    ``auc`` is computed on every vertex (not the downsampled ones), so it equals scikit-learn's
    ``roc_auc_score`` and the summary's AUC.
    """
    y_arr = np.asarray(y).ravel()
    p_arr = np.asarray(p, dtype=np.float64).ravel()
    if y_arr.shape != p_arr.shape:
        raise DataError(f"{len(y_arr)} labels but {len(p_arr)} scores", "pass one score per labelled row")
    if max_points < 2:
        raise DataError(f"max_points must be at least 2, got {max_points}", "use the default (200)")
    if not np.all(np.isfinite(p_arr)):
        raise DataError("scores contain NaN or infinity", "check the model's predictions before plotting")
    classes = set(np.unique(y_arr).tolist())
    if not classes <= {0, 1} or len(classes) < 2:  # bools compare equal to 0 and 1
        raise DataError(
            f"an ROC needs labels 0 and 1, got {sorted(classes)[:5]}",
            "compute curves on a split that holds both classes",
        )
    fpr, tpr = _full_roc(y_arr.astype(np.int64), p_arr)
    # trapezoids by hand: numpy 1.26 (our floor) has no np.trapezoid
    auc = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1])) / 2.0)
    keep = _keep(fpr, tpr, max_points)
    return {
        "fpr": np.round(fpr[keep], _DECIMALS).tolist(),
        "tpr": np.round(tpr[keep], _DECIMALS).tolist(),
        "auc": auc,
    }


def roc_curves(
    y: ArrayLike, scores: Mapping[str, ArrayLike], *, split: str = "test", max_points: int = MAX_POINTS
) -> dict[str, dict[str, Any]]:
    """``summary["curves"]`` for several score vectors on the same rows, e.g.
    ``roc_curves(y_test, {"model": p_fed, "baseline": p_central})``."""
    return {name: {**roc_points(y, p, max_points=max_points), "split": split} for name, p in scores.items()}
