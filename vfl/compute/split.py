"""Split search over gradient histograms and leaf weights, with xgboost's semantics.

For candidate "bin <= j goes left" and each default direction for the missing bin:
``loss_chg = GL²/(HL+λ) + GR²/(HR+λ) - G²/(H+λ)`` (xgboost's implementation; its docs write the
same score halved). A candidate is valid when both children carry hessian >= min_child_weight
(and > 0) and ``loss_chg`` exceeds both xgboost's epsilon and ``gamma`` (min_split_loss).
The reported gain is ``loss_chg - gamma``. Ties (within a relative 1e-6, below HE noise) go to
the lowest feature, bin, then missing-left, so every backend picks the same split.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from array_api_compat import device as _dev

from vfl.compute.backend import to_numpy

__all__ = [
    "BestSplit",
    "SplitRule",
    "best_split",
    "leaf_weight",
    "split_gains",
    "tie_tolerance",
]

_RT_EPS = 1e-6  # xgboost's kRtEps: smaller improvements are treated as no improvement
_TIE_REL = 1e-6  # relative gain difference below which two candidates are a tie


def tie_tolerance(gain: float) -> float:
    """Gains closer than this are a tie, kept by the earlier candidate: histograms decrypted
    from HE carry fixed-point or CKKS noise, which must not decide between equal splits."""
    return _TIE_REL * max(1.0, abs(gain))


@dataclass(frozen=True)
class SplitRule:
    reg_lambda: float = 1.0
    gamma: float = 0.0
    min_child_weight: float = 1.0


@dataclass(frozen=True)
class BestSplit:
    """The winning candidate of one histogram (indices into that histogram's features/bins)."""

    gain: float
    feature: int
    bin: int
    default_left: bool
    left_g: float
    left_h: float
    total_g: float
    total_h: float


def split_gains(xp: Any, G: Any, H: Any, rule: SplitRule) -> Any:
    """(F, n_bins-1, 2) gains (``-inf`` where invalid); last axis: missing left, missing right.

    ``G``/``H`` are (F, n_bins) with the missing bin last.
    """
    nb = G.shape[1] - 1
    gl = xp.cumulative_sum(G[:, :nb], axis=1)
    hl = xp.cumulative_sum(H[:, :nb], axis=1)
    gm, hm = G[:, nb:], H[:, nb:]
    gt, ht = gl[:, -1:] + gm, hl[:, -1:] + hm
    GL = xp.stack([gl + gm, gl], axis=2)
    HL = xp.stack([hl + hm, hl], axis=2)
    GR, HR = gt[:, :, None] - GL, ht[:, :, None] - HL
    lam = rule.reg_lambda
    parent = gt * gt / (ht + lam)
    loss_chg = GL * GL / (HL + lam) + GR * GR / (HR + lam) - parent[:, :, None]
    mcw = max(rule.min_child_weight, 0.0)
    # Hessian sums travel through fixed-point HE, so compare them with a little slack.
    tol = 1e-9
    ok = (HL >= mcw - tol) & (HR >= mcw - tol) & (HL > tol) & (HR > tol)
    ok = ok & (loss_chg > _RT_EPS) & (loss_chg >= rule.gamma)
    return xp.where(ok, loss_chg - rule.gamma, xp.asarray(-xp.inf, dtype=G.dtype, device=_dev(G)))


def best_split(xp: Any, G: Any, H: Any, rule: SplitRule) -> BestSplit | None:
    """The best valid split of one node's histogram, or None when no candidate is valid."""
    gains = to_numpy(split_gains(xp, G, H, rule))
    flat = gains.reshape(-1)
    top = float(np.max(flat))
    if not np.isfinite(top):
        return None
    k = int(np.argmax(flat >= top - tie_tolerance(top)))
    f, j, d = np.unravel_index(k, gains.shape)
    Gn, Hn = to_numpy(G)[f], to_numpy(H)[f]
    left = slice(0, j + 1)
    lg, lh = float(Gn[left].sum()), float(Hn[left].sum())
    if d == 0:
        lg, lh = lg + float(Gn[-1]), lh + float(Hn[-1])
    return BestSplit(
        gain=float(flat[k]),
        feature=int(f),
        bin=int(j),
        default_left=bool(d == 0),
        left_g=lg,
        left_h=lh,
        total_g=float(Gn.sum()),
        total_h=float(Hn.sum()),
    )


def leaf_weight(g_sum: Any, h_sum: Any, reg_lambda: float, learning_rate: float) -> Any:
    """xgboost's leaf value ``-G / (H + λ)``, shrunk by the learning rate."""
    return -g_sum / (h_sum + reg_lambda) * learning_rate
