"""Plaintext compute of vertical logistic regression on one array namespace.

A party's LR hot loop is a few dense operations on its own rows: partial scores ``X w``, the
logistic function, the log-loss, the residual ``d`` and the gradient ``Xᵀ d``. They are written
against the array API so that the same code runs on NumPy (the default, bit-identical to the
original NumPy loop), on PyTorch-CPU in the comparison tests, and on a GPU. HE, masking, DP noise
and the optimiser stay NumPy float64: callers move arrays across that boundary with
:func:`vfl.compute.to_numpy` and :meth:`vfl.compute.Backend.asarray`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from array_api_compat import device as _dev

__all__ = ["linear_scores", "log_loss", "logistic", "lr_gradient", "lr_residual", "take_rows"]

_P_EPS = 1e-12  # log-loss clips probabilities to [eps, 1 - eps], so a confident miss stays finite


def take_rows(xp: Any, x: Any, rows: np.ndarray) -> Any:
    """Rows ``rows`` (host NumPy indices, e.g. one batch) of ``x`` on ``x``'s device.

    The features are moved to the device once per job; only the batch's indices travel.
    """
    idx = xp.asarray(rows, dtype=xp.int64, device=_dev(x))
    return xp.take(x, idx, axis=0)


def linear_scores(xp: Any, x: Any, w: Any) -> Any:
    """One party's partial scores ``x @ w`` for (n, f) features and (f,) weights."""
    return x @ w


def logistic(xp: Any, u: Any) -> Any:
    """P(y=1) from scores, as ``(1 + tanh(u / 2)) / 2``.

    Equal to :func:`vfl.compute.sigmoid` in exact arithmetic and overflow-free too, but kept in
    this form so that LR on NumPy stays bit-identical to the models and checkpoints it wrote
    before (the two forms differ in the last bit).
    """
    return 0.5 * (1.0 + xp.tanh(0.5 * u))


def log_loss(xp: Any, p: Any, y: Any) -> Any:
    """Per-row binary cross-entropy of probabilities ``p`` against 0/1 labels ``y``."""
    p = xp.clip(p, _P_EPS, 1 - _P_EPS)
    return -(y * xp.log(p) + (1 - y) * xp.log(1 - p))


def lr_residual(xp: Any, p: Any, y: Any, sw: Any) -> Any:
    """The batch residual ``d = sw (p - y) / m``: the gradient of the mean weighted log-loss
    with respect to the joint score. It is what the active encrypts for the passives."""
    return sw * (p - y) / p.shape[0]


def lr_gradient(xp: Any, x: Any, d: Any) -> Any:
    """A party's own gradient ``xᵀ d`` over the batch rows ``x`` (m, f) and residual ``d`` (m,)."""
    return xp.matrix_transpose(x) @ d
