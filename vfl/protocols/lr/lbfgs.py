"""Full-batch L-BFGS whose vectors stay split across the parties ("vector-free" L-BFGS, Chen,
Wang, Zhou and Zhu, NeurIPS 2014).

The two-loop recursion only ever combines the memory vectors s_i, y_i and the gradient g
linearly, with coefficients that depend on their inner products. So each party keeps its own
coordinates of s_i, y_i, g (:class:`Memory`), sends the Gram matrix of those slices (masked, so
that the active learns only the sum over passives), and the active runs the recursion on the
summed Gram matrix alone (:func:`direction_coefficients`); every party then forms its own slice
of the direction from the returned coefficients. The line search needs no further round: the
active holds the scores u and the direction's scores du = X d (summed), so the objective along
the line, ``phi(a) = loss(u + a du) + l2/2 ||w + a d||^2``, is its own arithmetic
(:class:`LineObjective`, :func:`line_search`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vfl.core.errors import ProtocolError
from vfl.protocols.lr.family import LOGISTIC, Family

__all__ = [
    "CURVATURE_EPS",
    "LineObjective",
    "Memory",
    "direction_coefficients",
    "line_search",
    "pack_gram",
    "reduce_gram",
    "relative_change",
    "unpack_gram",
]

#: a new pair is kept only if s^T y > CURVATURE_EPS * y^T y (its curvature is safely positive)
CURVATURE_EPS = 1e-10


@dataclass
class Memory:
    """One party's slice of the L-BFGS memory: its own coordinates of the last pairs."""

    size: int
    s: list[np.ndarray] = field(default_factory=list)
    y: list[np.ndarray] = field(default_factory=list)

    def basis(
        self, pending: tuple[np.ndarray, np.ndarray] | None, g: np.ndarray, w: np.ndarray
    ) -> np.ndarray:
        """Columns ``[s_1..s_k, y_1..y_k, g, w]`` (with a ``pending`` pair appended to the memory)
        whose Gram matrix the active needs; ``w`` holds the penalised weights (no intercept)."""
        s, y = list(self.s), list(self.y)
        if pending is not None:
            s.append(pending[0])
            y.append(pending[1])
        return np.column_stack([*s, *y, g, w]) if s else np.column_stack([g, w])

    def update(self, pending: tuple[np.ndarray, np.ndarray] | None, keep: bool) -> None:
        """Take the pending pair in if the active kept it; forget the oldest beyond ``size``."""
        if pending is not None and keep:
            self.s.append(pending[0])
            self.y.append(pending[1])
        del self.s[: max(0, len(self.s) - self.size)]
        del self.y[: max(0, len(self.y) - self.size)]

    def direction(self, coef: np.ndarray, g: np.ndarray) -> np.ndarray:
        """This party's slice of ``d = sum_j coef_j b_j`` over the basis ``[s.., y.., g]``."""
        k = len(self.s)
        if coef.shape != (2 * k + 1,):
            raise ProtocolError(f"L-BFGS direction has {coef.shape} coefficients, expected {2 * k + 1}")
        d = coef[2 * k] * g
        for i in range(k):
            d = d + coef[i] * self.s[i] + coef[k + i] * self.y[i]
        return d

    def state(self) -> dict[str, np.ndarray]:
        """For a checkpoint: the pairs as (k, dim) arrays."""
        dim = 0 if not self.s else len(self.s[0])
        return {
            "lbfgs_s": np.array(self.s).reshape(len(self.s), dim),
            "lbfgs_y": np.array(self.y).reshape(len(self.y), dim),
        }

    @classmethod
    def restore(cls, size: int, state: dict[str, np.ndarray]) -> Memory:
        s = np.asarray(state["lbfgs_s"], dtype=np.float64)
        y = np.asarray(state["lbfgs_y"], dtype=np.float64)
        return cls(size, [r.copy() for r in s], [r.copy() for r in y])


@dataclass
class Iterate:
    """Where one party's L-BFGS run stands: its weights, its slice of the memory and its last
    step (paired with the next gradient change into a curvature pair)."""

    w: np.ndarray
    mem: Memory
    step: np.ndarray | None
    g_prev: np.ndarray

    def take(self, a: float, d: np.ndarray, g: np.ndarray) -> None:
        """Step ``a`` along ``d``, remembering the gradient ``g`` it was taken from."""
        self.w, self.step, self.g_prev = self.w + a * d, a * d, g

    def state(self) -> dict[str, Any]:
        """For a checkpoint."""
        return {
            "w": self.w,
            "g_prev": self.g_prev,
            "has_step": self.step is not None,
            "step_taken": np.zeros_like(self.w) if self.step is None else self.step,
            **self.mem.state(),
        }

    @staticmethod
    def fields(size: int, state: dict[str, Any]) -> dict[str, Any]:
        """A checkpoint's :meth:`state` back as the constructor's fields."""
        step = np.array(state["step_taken"], dtype=np.float64) if bool(state["has_step"]) else None
        return {
            "w": np.array(state["w"], dtype=np.float64),
            "mem": Memory.restore(size, state),
            "step": step,
            "g_prev": np.array(state["g_prev"], dtype=np.float64),
        }


def gram_pairs(gram: np.ndarray) -> int:
    """The number of (s, y) pairs k of a ``(2k + 2)``-square Gram matrix (basis ``[s, y, g, w]``)."""
    n = gram.shape[0]
    if gram.shape != (n, n) or n < 2 or n % 2:
        raise ProtocolError(f"L-BFGS Gram matrix of shape {gram.shape}")
    return (n - 2) // 2


def pack_gram(gram: np.ndarray) -> np.ndarray:
    """The upper triangle of a symmetric Gram matrix, row by row (what a passive sends)."""
    return gram[np.triu_indices(gram.shape[0])]


def unpack_gram(tri: np.ndarray, dim: int) -> np.ndarray:
    """Undo :func:`pack_gram`."""
    out = np.zeros((dim, dim))
    out[np.triu_indices(dim)] = tri
    return out + np.triu(out, 1).T


def reduce_gram(gram: np.ndarray, pending: bool, keep: bool, size: int) -> np.ndarray:
    """The Gram matrix of the basis after :meth:`Memory.update` (the pending pair is the last
    one; dropped if not kept, and the oldest pairs beyond ``size`` go)."""
    k = gram_pairs(gram)
    pairs = list(range(k))
    if pending and not keep:
        pairs = pairs[:-1]
    pairs = pairs[max(0, len(pairs) - size) :]
    idx = [*pairs, *(k + i for i in pairs), 2 * k, 2 * k + 1]
    return gram[np.ix_(idx, idx)]


def direction_coefficients(gram: np.ndarray) -> np.ndarray:
    """The L-BFGS two-loop recursion on inner products only: coefficients c over the basis
    ``[s_1..s_k, y_1..y_k, g]`` (``gram``'s first 2k+1 rows; the last, w, is not used) with
    ``sum_j c_j b_j = -H g``, H the L-BFGS inverse-Hessian estimate (initial scaling
    s_k^T y_k / y_k^T y_k)."""
    k = gram_pairs(gram)
    g = gram[: 2 * k + 1, : 2 * k + 1]
    c = np.zeros(2 * k + 1)
    c[2 * k] = -1.0
    alpha = np.zeros(k)
    for i in reversed(range(k)):
        alpha[i] = (c @ g[:, i]) / g[i, k + i]
        c[k + i] -= alpha[i]
    if k:
        c *= g[k - 1, 2 * k - 1] / g[2 * k - 1, 2 * k - 1]
    for i in range(k):
        beta = (c @ g[:, k + i]) / g[i, k + i]
        c[i] += alpha[i] - beta
    return c


@dataclass
class LineObjective:
    """The training objective along ``w + a d``, from the active's scores alone:
    ``phi(a) = sum_i sw_i loss(u_i + a du_i, y_i) / n + l2/2 (ww + 2 a wd + a^2 dd)``."""

    u: np.ndarray
    du: np.ndarray
    y: np.ndarray
    sw: np.ndarray
    n: float  # the loss is a mean over the training rows
    l2: float
    ww: float  # ||w||^2 over the penalised weights of all parties
    wd: float  # w^T d
    dd: float  # ||d||^2 (penalised coordinates)
    family: Family = LOGISTIC  # the loss per row (u holds the offset, if any)

    def __call__(self, a: float) -> tuple[float, float, float]:
        """(phi, phi', phi'') at step ``a``."""
        z = self.u + a * self.du
        fam = self.family
        loss = float(np.sum(self.sw * fam.loss(z, self.y))) / self.n
        d1 = float(np.sum(self.sw * fam.d1(z, self.y) * self.du)) / self.n
        d2 = float(np.sum(self.sw * fam.d2(z, self.y) * self.du**2)) / self.n
        pen = 0.5 * self.l2 * (self.ww + 2 * a * self.wd + a * a * self.dd)
        return loss + pen, d1 + self.l2 * (self.wd + a * self.dd), d2 + self.l2 * self.dd


def line_search(
    phi: LineObjective, a0: float, c1: float = 1e-4, c2: float = 0.9, max_evals: int = 40
) -> tuple[float, float]:
    """A step meeting the strong Wolfe conditions (``a0`` if it does, as L-BFGS usually
    allows); else the minimiser of the convex phi by safeguarded Newton. Returns (step, phi).
    Step 0 means d is no descent direction (the gradient is at its noise level: stop)."""
    f0, d0, _ = phi(0.0)
    if not d0 < 0:
        return 0.0, f0

    def wolfe(a: float, f: float, d: float) -> bool:
        return f <= f0 + c1 * a * d0 and abs(d) <= c2 * abs(d0)

    lo, hi = 0.0, np.inf
    a, best = a0, (0.0, f0)
    for _ in range(max_evals):
        f, d, h = phi(a)
        if f < best[1]:
            best = (a, f)
        if wolfe(a, f, d):
            return a, f
        if d < 0:
            lo = a
        else:
            hi = a
        newton = a - d / h if h > 0 else np.inf
        if np.isfinite(hi):
            a = newton if lo < newton < hi else 0.5 * (lo + hi)
        else:
            a = min(max(newton, 2 * a), 8 * a)
    return best


def relative_change(old: float, new: float) -> float:
    """|old - new| / |old|: the stopping test on the training objective."""
    return abs(old - new) / max(abs(old), np.finfo(float).tiny)
