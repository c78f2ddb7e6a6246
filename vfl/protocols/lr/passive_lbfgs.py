"""A passive party of full-batch L-BFGS (protocols/specs/lr.md, "L-BFGS"): it keeps its
weights and its own slice of the L-BFGS memory, and sends only masked sums (its Gram matrix,
its direction's scores) and its masked HE gradient. From the active it learns per iteration the
direction coefficients and the step length, nothing per row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vfl.compute import get_backend, linear_scores, to_numpy
from vfl.core.errors import ProtocolError
from vfl.core.progress import Progress
from vfl.crypto.he.base import HEScheme
from vfl.protocols.lr import stages as S
from vfl.protocols.lr.lbfgs import Memory, pack_gram
from vfl.protocols.lr.local import Clock, Standardiser
from vfl.protocols.lr.params import LRParams, PartFit, part_fingerprint
from vfl.protocols.lr.resume import Checkpointer, agree_start_passive, run_key
from vfl.protocols.lr.rounds import passive_gradient, report_part
from vfl.protocols.lr.shares import send_share
from vfl.transport.channel import Channel
from vfl.wire.v1 import lr_pb2

__all__ = ["LBFGSJob", "train_passive_lbfgs"]

#: bounds on what the active's setup may ask for (a peer's numbers are checked, not trusted)
MAX_MEMORY = 100
MAX_ITER = 100_000


@dataclass(frozen=True)
class LBFGSJob:
    """What the passive's common set-up (:func:`vfl.protocols.lr.train_passive`) established."""

    active: str
    setup: lr_pb2.LRSetup
    scheme: HEScheme
    mode: str
    seeds: dict[str, bytes]
    clock: Clock
    wait0: float  # the channel's wait and byte counters when training began
    bytes0: int


def train_passive_lbfgs(
    channel: Channel,
    x: np.ndarray,
    job: LBFGSJob,
    *,
    params: LRParams,
    progress: Progress | None = None,
    checkpoint: Checkpointer | None = None,
) -> PartFit:
    """One passive's side of an L-BFGS job; returns this passive's weights only."""
    backend = get_backend(params.device)
    xp = backend.xp
    setup, active, clock = job.setup, job.active, job.clock
    size, l2, max_iter = int(setup.memory), float(setup.l2), int(setup.epochs)
    if not (1 <= size <= MAX_MEMORY and 1 <= max_iter <= MAX_ITER and 0 <= l2 < np.inf):
        raise ProtocolError(
            f"{active}'s L-BFGS setup is out of range (memory {size}, max_iter {max_iter}, l2 {l2})"
        )
    if (
        setup.batch_size != setup.n_rows
        or setup.validation_fraction != 0
        or setup.row_clip
        or setup.noise_multiplier
    ):
        raise ProtocolError(f"{active}'s L-BFGS setup asks for batches, validation rows or DP")

    std = Standardiser.fit(x)
    xs = std.transform(x)
    xs_dev = backend.asarray(xs)
    w = np.zeros(xs.shape[1])
    mem = Memory(size)
    step: np.ndarray | None = None
    g_prev = np.zeros_like(w)
    schedule = {
        k: getattr(setup, k) for k in ("n_rows", "seed", "epochs", "score_mode", "solver", "memory", "l2")
    }
    key = run_key(
        "passive", {**schedule, "active": active, "he": job.scheme.name, "passives": list(setup.passives)}, x
    )
    done, state = agree_start_passive(channel, active, checkpoint, key)
    stopped = False
    if state is not None:
        w, g_prev = (np.array(state[k], dtype=np.float64) for k in ("w", "g_prev"))
        step = np.array(state["step_taken"], dtype=np.float64) if bool(state["has_step"]) else None
        mem = Memory.restore(size, state)
        stopped = bool(state["stopped"])
    resumed_from = done
    if progress:
        progress("iteration", done, max_iter)
    rounds = 0
    for it in range(done, 0 if stopped else max_iter):
        topics = (S.t_lbfgs(it, "residual"), S.t_lbfgs(it, "grad"), S.t_lbfgs(it, "grad-plain"))
        g = passive_gradient(channel, job.scheme, active, xs, topics, setup.grad_mask_bound, clock) + l2 * w
        rounds += 1
        pending = None if step is None else (step, g - g_prev)
        basis = mem.basis(pending, g, w)
        send_share(
            channel, active, S.t_lbfgs(it, "gram"), pack_gram(basis.T @ basis), job.mode, job.seeds, wide=True
        )
        direction = channel.recv(active, S.t_lbfgs(it, "direction"), lr_pb2.LRDirection)
        _check_control(active, direction, it)
        if direction.decision == S.STOP:
            break
        mem.update(pending, direction.keep_pair)
        d = mem.direction(np.array(direction.coef, dtype=np.float64), g)
        du = to_numpy(linear_scores(xp, xs_dev, backend.asarray(d)))
        send_share(channel, active, S.t_lbfgs(it, "dscore"), du, job.mode, job.seeds)
        msg = channel.recv(active, S.t_lbfgs(it, "step"), lr_pb2.LRStep)
        _check_control(active, msg, it)
        if not (0 <= msg.step < np.inf):
            raise ProtocolError(f"{active} sent the step length {msg.step}")
        if msg.step > 0:
            w, step, g_prev = w + msg.step * d, msg.step * d, g
        done = it + 1
        if checkpoint is not None:
            checkpoint.save(
                done,
                {
                    "run_key": key,
                    "step": done,
                    "stopped": msg.decision == S.STOP,
                    "w": w,
                    "g_prev": g_prev,
                    "has_step": step is not None,
                    "step_taken": np.zeros_like(w) if step is None else step,
                    **mem.state(),
                },
            )
        if progress:  # converged: the stage ends at its own count, not at max_iter
            progress("iteration", done, done if msg.decision == S.STOP else max_iter)
        if msg.decision == S.STOP:
            break

    parts = report_part(channel, active, part_fingerprint(w, None, std))
    return PartFit(
        weights=w,
        intercept=None,
        standardiser=std,
        epochs_run=done,
        seconds=clock.split(channel.stats.wait_seconds - job.wait0),
        bytes_sent=channel.stats.total_bytes_sent - job.bytes0,
        parts=parts,
        resumed_from=resumed_from,
        solver="lbfgs",
        n_iter=done,
        rounds=rounds,
    )


def _check_control(active: str, msg: lr_pb2.LRDirection | lr_pb2.LRStep, it: int) -> None:
    if msg.decision not in (S.CONTINUE, S.STOP) or msg.iteration != it:
        raise ProtocolError(f"{active} sent {msg.decision!r} for iteration {msg.iteration} in iteration {it}")
