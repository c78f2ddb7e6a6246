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

import numpy as np

from vfl.compute import get_backend, linear_scores, lr_gradient, to_numpy
from vfl.core.errors import DataError
from vfl.core.progress import Progress
from vfl.crypto.dp import secure_rng
from vfl.crypto.he.base import HEScheme
from vfl.protocols.lr import stages as S
from vfl.protocols.lr.family import family_of
from vfl.protocols.lr.lbfgs import (
    CURVATURE_EPS,
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
    backend = get_backend(params.device)
    xp = backend.xp
    clock = Clock()
    wait0, bytes0 = channel.stats.wait_seconds, channel.stats.total_bytes_sent
    fam = family_of(params)
    y = fam.check(y)
    n = len(y)
    off = _checked_offset(offset, n)
    mode = S.SCORE_MASKED if len(passives) >= 2 else S.SCORE_CLEAR
    l2 = params.penalty(n)
    setup = lr_pb2.LRSetup(
        n_rows=n,
        seed=params.seed,
        epochs=params.max_iter,
        batch_size=n,
        validation_fraction=0.0,
        early_stopping=False,
        passives=passives,
        score_mode=mode,
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
    xa_dev = backend.asarray(xa)
    sw = sample_weights(y, params.class_weight, normalise=False)
    penalised = np.r_[np.ones(xa.shape[1] - 1), 0.0]  # the intercept is not penalised
    flood = params.ckks_flood_sigma if scheme.name == "ckks" else 0.0
    rng = secure_rng()
    tol = params.convergence_tol

    w = np.zeros(xa.shape[1])
    w[-1] = fam.start(y, offset)  # 0 for logistic; the intercept is the active's own
    u = off + w[-1]  # the joint scores plus the offset, kept up to date from the directions' scores
    mem = Memory(params.memory)
    step: np.ndarray | None = None  # the last step a d, paired with the next gradient change
    g_prev = np.zeros_like(w)
    losses = [float(np.sum(sw * fam.loss(u, y))) / n]
    settings = {
        "solver": "lbfgs",
        **{k: getattr(params, k) for k in ("max_iter", "memory", "l2", "tol", "class_weight", "seed")},
    }
    if not fam.logistic:  # LR's run keys stay as they were
        settings.update(objective=fam.objective, power=fam.power)
    extra = () if offset is None else (off,)
    key = run_key("active", {**settings, "passives": passives, "he": scheme.name}, x, y, *extra)
    done, state = agree_start_active(channel, passives, checkpoint, key)
    stopped = False
    if state is not None:
        w, u, g_prev = (np.array(state[k], dtype=np.float64) for k in ("w", "u", "g_prev"))
        step = np.array(state["step_taken"], dtype=np.float64) if bool(state["has_step"]) else None
        mem = Memory.restore(params.memory, state)
        losses, stopped = list(state["losses"]), bool(state["stopped"])
    if progress:
        progress("iteration", done, params.max_iter)
    rounds = 0
    for it in range(done, 0 if stopped else params.max_iter):
        # 1. the gradient at w: ours in the clear, the passives' through HE
        r = sw * fam.d1(u, y) / n
        send_residual(channel, scheme, passives, r, S.t_lbfgs(it, "residual"), clock)
        g = to_numpy(lr_gradient(xp, xa_dev, backend.asarray(r))) + l2 * penalised * w
        topics = (S.t_lbfgs(it, "grad"), S.t_lbfgs(it, "grad-plain"))
        return_masked_gradients(channel, scheme, passives, topics, clock, 0.0, flood, rng)
        rounds += 1
        # 2. the Gram matrix of [s.., y.., g, w] summed over the parties; keep the new pair?
        pending = None if step is None else (step, g - g_prev)
        basis = mem.basis(pending, g, penalised * w)
        dim = basis.shape[1]
        theirs = unpack_gram(
            passive_sum(channel, passives, S.t_lbfgs(it, "gram"), mode, dim * (dim + 1) // 2, wide=True), dim
        )
        gram = basis.T @ basis + theirs
        k = gram_pairs(gram)
        keep = pending is not None and gram[k - 1, 2 * k - 1] > CURVATURE_EPS * gram[2 * k - 1, 2 * k - 1]
        gram = reduce_gram(gram, pending is not None, keep, params.memory)
        theirs = reduce_gram(theirs, pending is not None, keep, params.memory)
        mem.update(pending, keep)
        g_norm = float(np.sqrt(max(gram[-2, -2], 0.0)))
        if g_norm <= GRAD_TOL:
            channel.broadcast(
                S.t_lbfgs(it, "direction"), lr_pb2.LRDirection(iteration=it, decision=S.STOP), passives
            )
            break
        # 3. the direction, as coefficients over everyone's own basis vectors
        coef = direction_coefficients(gram)
        msg = lr_pb2.LRDirection(iteration=it, decision=S.CONTINUE, keep_pair=keep, coef=coef.tolist())
        channel.broadcast(S.t_lbfgs(it, "direction"), msg, passives)
        d = mem.direction(coef, g)
        du = to_numpy(linear_scores(xp, xa_dev, backend.asarray(d)))
        du = du + passive_sum(channel, passives, S.t_lbfgs(it, "dscore"), mode, n)
        # 4. the line search, on our own scores (the penalty terms from the Gram matrix)
        phi = LineObjective(
            u=u,
            du=du,
            y=y,
            sw=sw,
            n=float(n),
            l2=l2,
            ww=float(gram[-1, -1]),
            wd=float(gram[-1, :-1] @ coef),
            dd=float(coef @ theirs[:-1, :-1] @ coef + np.sum((penalised * d) ** 2)),
            family=fam,
        )
        f_old = phi(0.0)[0]
        a, f_new = line_search(phi, 1.0 if mem.s else min(1.0, 1.0 / g_norm))
        if a > 0:
            w, u, step, g_prev = w + a * d, u + a * du, a * d, g
            losses.append(f_new)
        last = a == 0 or relative_change(f_old, f_new) < tol or it + 1 == params.max_iter
        decision = S.STOP if last else S.CONTINUE
        if checkpoint is not None:  # before the step: no passive ever holds an iteration we lack
            checkpoint.save(
                it + 1,
                {
                    "run_key": key,
                    "step": it + 1,
                    "stopped": last,
                    "w": w,
                    "u": u,
                    "g_prev": g_prev,
                    "has_step": step is not None,
                    "step_taken": np.zeros_like(w) if step is None else step,
                    **mem.state(),
                    "losses": losses,
                },
            )
        channel.broadcast(
            S.t_lbfgs(it, "step"), lr_pb2.LRStep(iteration=it, decision=decision, step=a), passives
        )
        done = it + 1
        if progress:  # converged: the stage ends at its own count, not at max_iter
            progress("iteration", done, done if last else params.max_iter)
        if last:
            break

    parts = collect_parts(channel, passives, part_fingerprint(w[:-1], float(w[-1]), std))
    return PartFit(
        weights=w[:-1],
        intercept=float(w[-1]),
        standardiser=std,
        epochs_run=done,
        loss_history=losses,
        seconds=clock.split(channel.stats.wait_seconds - wait0),
        bytes_sent=channel.stats.total_bytes_sent - bytes0,
        parts=parts,
        resumed_from=0 if state is None else int(state["step"]),
        solver="lbfgs",
        n_iter=done,
        rounds=rounds,
    )


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
