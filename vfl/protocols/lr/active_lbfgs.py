"""The active party of full-batch L-BFGS (protocols/specs/lr.md, "L-BFGS"): it holds the label,
the key, the joint scores u and so the loss, runs the two-loop recursion on the summed Gram
matrix and the line search on its own scores; each passive keeps its weights and its slice of
the L-BFGS memory to itself.

One iteration is one HE gradient round over all training rows (the mini-batch round of
:mod:`vfl.protocols.lr.rounds`), then three small messages: the Gram share in, the direction
coefficients out, the direction's scores in, the step out. Training stops when the objective
changes by less than ``tol`` (relative) in an iteration, the gradient norm falls below
``GRAD_TOL``, no descent direction is left (the gradient is at its noise floor), or after
``max_iter`` iterations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from vfl.compute import Backend, get_backend, linear_scores, lr_gradient, to_numpy
from vfl.core.errors import DataError
from vfl.core.progress import Progress
from vfl.crypto.dp import secure_rng
from vfl.crypto.he.base import HEScheme
from vfl.protocols.lr import stages as S
from vfl.protocols.lr.family import family_of
from vfl.protocols.lr.lbfgs import (
    CURVATURE_EPS,
    Iterate,
    LineObjective,
    Memory,
    direction_coefficients,
    gram_pairs,
    line_search,
    reduce_gram,
    relative_change,
    unpack_gram,
)
from vfl.protocols.lr.local import Clock, Standardiser
from vfl.protocols.lr.params import LRParams, PartFit, part_fingerprint
from vfl.protocols.lr.resume import Checkpointer, agree_start_active, run_key
from vfl.protocols.lr.rounds import (
    collect_parts,
    return_masked_gradients,
    sample_weights,
    send_residual,
)
from vfl.protocols.lr.shares import passive_sum
from vfl.transport.channel import Channel
from vfl.wire.v1 import lr_pb2

__all__ = ["GRAD_TOL", "train_active_lbfgs"]

#: stop when the joint gradient's L2 norm (mean-loss scale) is below this
GRAD_TOL = 1e-8


@dataclass
class _Iterate(Iterate):
    """The label holder's point also holds the joint scores (plus offset) at ``w`` and the
    objective so far."""

    u: np.ndarray
    losses: list[float]

    def advance(self, a: float, d: np.ndarray, du: np.ndarray, g: np.ndarray, f_new: float) -> None:
        self.take(a, d, g)
        self.u = self.u + a * du
        self.losses.append(f_new)

    def state(self) -> dict[str, Any]:
        return {**super().state(), "u": self.u, "losses": self.losses}

    @classmethod
    def restore(cls, size: int, state: dict[str, Any]) -> _Iterate:
        u = np.array(state["u"], dtype=np.float64)
        return cls(**Iterate.fields(size, state), u=u, losses=list(state["losses"]))


@dataclass
class _Gram:
    """The iteration's Gram matrix over everyone's basis, the passives' share of it, whether the
    new curvature pair was kept, and the joint gradient's norm."""

    gram: np.ndarray
    theirs: np.ndarray
    keep: bool
    g_norm: float


class _ActiveRun:
    """One L-BFGS run at the label holder: what stays fixed over the run, and one method per
    exchange of an iteration (protocols/specs/lr.md, L-BFGS: L3 to L7)."""

    def __init__(
        self,
        channel: Channel,
        scheme: HEScheme,
        passives: list[str],
        params: LRParams,
        backend: Backend,
        xa: np.ndarray,
        y: np.ndarray,
        sw: np.ndarray,
        l2: float,
    ):
        self.channel, self.scheme, self.passives, self.params = channel, scheme, passives, params
        self.backend = backend
        self.xp = self.backend.xp
        self.xa_dev = self.backend.asarray(xa)
        self.fam = family_of(params)
        self.y, self.sw, self.n, self.l2 = y, sw, len(y), l2
        self.mode = S.SCORE_MASKED if len(passives) >= 2 else S.SCORE_CLEAR
        self.penalised = np.r_[np.ones(xa.shape[1] - 1), 0.0]  # the intercept is not penalised
        self.flood = params.ckks_flood_sigma if scheme.name == "ckks" else 0.0
        self.rng = secure_rng()
        self.clock = Clock()

    def gradient(self, it: int, at: _Iterate) -> np.ndarray:
        """The joint gradient at ``at.w``: ours in the clear, the passives' through HE."""
        r = self.sw * self.fam.d1(at.u, self.y) / self.n
        send_residual(self.channel, self.scheme, self.passives, r, S.t_lbfgs(it, "residual"), self.clock)
        g = (
            to_numpy(lr_gradient(self.xp, self.xa_dev, self.backend.asarray(r)))
            + self.l2 * self.penalised * at.w
        )
        topics = (S.t_lbfgs(it, "grad"), S.t_lbfgs(it, "grad-plain"))
        return_masked_gradients(
            self.channel, self.scheme, self.passives, topics, self.clock, 0.0, self.flood, self.rng
        )
        return g

    def gram(self, it: int, at: _Iterate, g: np.ndarray) -> _Gram:
        """The Gram matrix of ``[s.., y.., g, w]`` summed over the parties; keeps the new pair
        in the memory if its curvature is positive."""
        pending = None if at.step is None else (at.step, g - at.g_prev)
        basis = at.mem.basis(pending, g, self.penalised * at.w)
        dim = basis.shape[1]
        packed = passive_sum(
            self.channel, self.passives, S.t_lbfgs(it, "gram"), self.mode, dim * (dim + 1) // 2, wide=True
        )
        theirs = unpack_gram(packed, dim)
        gram = basis.T @ basis + theirs
        k = gram_pairs(gram)
        keep = pending is not None and gram[k - 1, 2 * k - 1] > CURVATURE_EPS * gram[2 * k - 1, 2 * k - 1]
        gram = reduce_gram(gram, pending is not None, keep, self.params.memory)
        theirs = reduce_gram(theirs, pending is not None, keep, self.params.memory)
        at.mem.update(pending, keep)
        return _Gram(gram, theirs, keep, float(np.sqrt(max(gram[-2, -2], 0.0))))

    def direction(
        self, it: int, at: _Iterate, gm: _Gram, g: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The direction as coefficients over everyone's own basis vectors (sent), our slice of
        it, and the joint scores' change along it."""
        coef = direction_coefficients(gm.gram)
        msg = lr_pb2.LRDirection(iteration=it, decision=S.CONTINUE, keep_pair=gm.keep, coef=coef.tolist())
        self.channel.broadcast(S.t_lbfgs(it, "direction"), msg, self.passives)
        d = at.mem.direction(coef, g)
        du = to_numpy(linear_scores(self.xp, self.xa_dev, self.backend.asarray(d)))
        du = du + passive_sum(self.channel, self.passives, S.t_lbfgs(it, "dscore"), self.mode, self.n)
        return coef, d, du

    def search(
        self, at: _Iterate, gm: _Gram, coef: np.ndarray, d: np.ndarray, du: np.ndarray
    ) -> tuple[float, float, float]:
        """The line search on our own scores (the penalty terms from the Gram matrix): the step,
        the objective before and after it."""
        phi = LineObjective(
            u=at.u,
            du=du,
            y=self.y,
            sw=self.sw,
            n=float(self.n),
            l2=self.l2,
            ww=float(gm.gram[-1, -1]),
            wd=float(gm.gram[-1, :-1] @ coef),
            dd=float(coef @ gm.theirs[:-1, :-1] @ coef + np.sum((self.penalised * d) ** 2)),
            family=self.fam,
        )
        f_old = phi(0.0)[0]
        a, f_new = line_search(phi, 1.0 if at.mem.s else min(1.0, 1.0 / gm.g_norm))
        return a, f_old, f_new

    def decide(self, topic: str, msg: lr_pb2.LRDirection | lr_pb2.LRStep) -> None:
        self.channel.broadcast(topic, msg, self.passives)


def train_active_lbfgs(
    channel: Channel,
    x: np.ndarray,
    y: np.ndarray,
    *,
    passives: list[str],
    scheme: HEScheme,
    params: LRParams,
    progress: Progress | None = None,
    checkpoint: Checkpointer | None = None,
    offset: np.ndarray | None = None,
) -> PartFit:
    """The active side of an L-BFGS training job (see :func:`vfl.protocols.lr.train_active`).
    The family (logistic for LR) comes from ``params``; ``offset``: each row's offset on the
    linear predictor (log(exposure) for the log-link families), kept here and never sent."""
    backend = get_backend(params.device)  # before any message: a bad device stops nobody mid-job
    wait0, bytes0 = channel.stats.wait_seconds, channel.stats.total_bytes_sent
    fam = family_of(params)
    y = fam.check(y)
    n = len(y)
    off = _checked_offset(offset, n)
    l2 = params.penalty(n)
    setup = lr_pb2.LRSetup(
        n_rows=n,
        seed=params.seed,
        epochs=params.max_iter,
        batch_size=n,
        validation_fraction=0.0,
        early_stopping=False,
        passives=passives,
        score_mode=S.SCORE_MASKED if len(passives) >= 2 else S.SCORE_CLEAR,
        frac_bits=S.FRAC_BITS,
        grad_mask_bound=params.grad_mask_bound,
        solver="lbfgs",
        memory=params.memory,
        l2=l2,
    )
    setup.he_context.CopyFrom(scheme.public_context())
    channel.broadcast(S.T_SETUP, setup, passives)

    std = Standardiser.fit(x)
    xa = np.hstack([std.transform(x), np.ones((n, 1))])  # last column: the intercept
    sw = sample_weights(y, params.class_weight, normalise=False)
    run = _ActiveRun(channel, scheme, passives, params, backend, xa, y, sw, l2)

    w = np.zeros(xa.shape[1])
    w[-1] = fam.start(y, offset)  # 0 for logistic; the intercept is the active's own
    u = off + w[-1]  # the joint scores plus the offset, kept up to date from the directions' scores
    losses = [float(np.sum(sw * fam.loss(u, y))) / n]
    at = _Iterate(w, Memory(params.memory), None, np.zeros_like(w), u=u, losses=losses)
    key = run_key(
        "active",
        {**_settings(params), "passives": passives, "he": scheme.name},
        x,
        y,
        *(() if offset is None else (off,)),
    )
    done, state = agree_start_active(channel, passives, checkpoint, key)
    stopped = False
    if state is not None:
        at, stopped = _Iterate.restore(params.memory, state), bool(state["stopped"])
    if progress:
        progress("iteration", done, params.max_iter)
    rounds = 0
    for it in range(done, 0 if stopped else params.max_iter):
        g = run.gradient(it, at)
        rounds += 1
        gm = run.gram(it, at, g)
        if gm.g_norm <= GRAD_TOL:
            run.decide(S.t_lbfgs(it, "direction"), lr_pb2.LRDirection(iteration=it, decision=S.STOP))
            break
        coef, d, du = run.direction(it, at, gm, g)
        a, f_old, f_new = run.search(at, gm, coef, d, du)
        if a > 0:
            at.advance(a, d, du, g, f_new)
        last = a == 0 or relative_change(f_old, f_new) < params.convergence_tol or it + 1 == params.max_iter
        if checkpoint is not None:  # before the step: no passive ever holds an iteration we lack
            checkpoint.save(it + 1, {"run_key": key, "step": it + 1, "stopped": last, **at.state()})
        run.decide(
            S.t_lbfgs(it, "step"),
            lr_pb2.LRStep(iteration=it, decision=S.STOP if last else S.CONTINUE, step=a),
        )
        done = it + 1
        if progress:  # converged: the stage ends at its own count, not at max_iter
            progress("iteration", done, done if last else params.max_iter)
        if last:
            break

    w = at.w
    parts = collect_parts(channel, passives, part_fingerprint(w[:-1], float(w[-1]), std))
    return PartFit(
        weights=w[:-1],
        intercept=float(w[-1]),
        standardiser=std,
        epochs_run=done,
        loss_history=at.losses,
        seconds=run.clock.split(channel.stats.wait_seconds - wait0),
        bytes_sent=channel.stats.total_bytes_sent - bytes0,
        parts=parts,
        resumed_from=0 if state is None else int(state["step"]),
        solver="lbfgs",
        n_iter=done,
        rounds=rounds,
    )


def _settings(params: LRParams) -> dict[str, Any]:
    """What the run key binds: the solver's parameters (and a GLM's family; LR's keys stay as
    they were)."""
    fam = family_of(params)
    settings: dict[str, Any] = {
        "solver": "lbfgs",
        **{k: getattr(params, k) for k in ("max_iter", "memory", "l2", "tol", "class_weight", "seed")},
    }
    if not fam.logistic:
        settings.update(objective=fam.objective, power=fam.power)
    return settings


def _checked_offset(offset: np.ndarray | None, n: int) -> np.ndarray:
    """The rows' offsets (zeros without one); one finite number per row."""
    if offset is None:
        return np.zeros(n)
    off = np.asarray(offset, dtype=np.float64)
    if off.shape != (n,) or not np.all(np.isfinite(off)):
        raise DataError(
            f"the offset needs one finite number per row ({n} rows)",
            "fill in the offset (the log of the exposure) of every row",
        )
    return off
