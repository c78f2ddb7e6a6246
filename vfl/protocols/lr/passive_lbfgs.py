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
from vfl.executor.he import HEWork
from vfl.protocols.lr import stages as S
from vfl.protocols.lr.lbfgs import Iterate, Memory, pack_gram
from vfl.protocols.lr.local import Clock, Standardiser
from vfl.protocols.lr.params import LRParams, PartFit, part_fingerprint
from vfl.protocols.lr.resume import Checkpointer, agree_start_passive, run_key
from vfl.protocols.lr.rounds import passive_gradient, report_part
from vfl.protocols.lr.shares import send_share
from vfl.transport.channel import Channel
from vfl.wire.v1 import lr_pb2

__all__ = ["PassiveJob", "train_passive_lbfgs"]

#: bounds on what the active's setup may ask for (a peer's numbers are checked, not trusted)
MAX_MEMORY = 100
MAX_ITER = 100_000


@dataclass(frozen=True)
class PassiveJob:
    """What the passive's common set-up (:func:`vfl.protocols.lr.train_passive`) established,
    for either solver."""

    active: str
    setup: lr_pb2.LRSetup
    he: HEWork  # the active's public-only scheme, and where its bulk work runs
    mode: str
    seeds: dict[str, bytes]
    clock: Clock
    wait0: float  # the channel's wait and byte counters when training began
    bytes0: int

    @property
    def scheme(self) -> HEScheme:
        return self.he.scheme


class _PassiveRun:
    """One L-BFGS run at a passive: what stays fixed over the run and one method per exchange
    of an iteration (protocols/specs/lr.md, L-BFGS: L3 to L7)."""

    def __init__(self, channel: Channel, job: PassiveJob, xs: np.ndarray, device: str, l2: float):
        self.channel, self.job, self.active, self.xs, self.l2 = channel, job, job.active, xs, l2
        self.backend = get_backend(device)
        self.xs_dev = self.backend.asarray(xs)

    def gradient(self, it: int, at: Iterate) -> np.ndarray:
        """Our penalised gradient at ``at.w``, from the encrypted residual (masked, decrypted
        by the active, unmasked here)."""
        job = self.job
        topics = (S.t_lbfgs(it, "residual"), S.t_lbfgs(it, "grad"), S.t_lbfgs(it, "grad-plain"))
        g = passive_gradient(
            self.channel, job.he, self.active, self.xs, topics, job.setup.grad_mask_bound, job.clock
        )
        return g + self.l2 * at.w

    def gram(self, it: int, at: Iterate, g: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """Our share of the Gram matrix out (masked); the pending curvature pair back."""
        pending = None if at.step is None else (at.step, g - at.g_prev)
        basis = at.mem.basis(pending, g, at.w)
        job = self.job
        send_share(
            self.channel,
            self.active,
            S.t_lbfgs(it, "gram"),
            pack_gram(basis.T @ basis),
            job.mode,
            job.seeds,
            wide=True,
        )
        return pending

    def direction(
        self, it: int, at: Iterate, g: np.ndarray, pending: tuple[np.ndarray, np.ndarray] | None
    ) -> np.ndarray | None:
        """Our slice of the active's direction (None: the active stopped); its scores out."""
        msg = self.channel.recv(self.active, S.t_lbfgs(it, "direction"), lr_pb2.LRDirection)
        _check_control(self.active, msg, it)
        if msg.decision == S.STOP:
            return None
        at.mem.update(pending, msg.keep_pair)
        d = at.mem.direction(np.array(msg.coef, dtype=np.float64), g)
        xp = self.backend.xp
        du = to_numpy(linear_scores(xp, self.xs_dev, self.backend.asarray(d)))
        send_share(self.channel, self.active, S.t_lbfgs(it, "dscore"), du, self.job.mode, self.job.seeds)
        return d

    def step(self, it: int, at: Iterate, d: np.ndarray, g: np.ndarray) -> bool:
        """The step length the active's line search found, taken; whether training stops."""
        msg = self.channel.recv(self.active, S.t_lbfgs(it, "step"), lr_pb2.LRStep)
        _check_control(self.active, msg, it)
        if not (0 <= msg.step < np.inf):
            raise ProtocolError(f"{self.active} sent the step length {msg.step}")
        if msg.step > 0:
            at.take(msg.step, d, g)
        return bool(msg.decision == S.STOP)


def train_passive_lbfgs(
    channel: Channel,
    x: np.ndarray,
    job: PassiveJob,
    *,
    params: LRParams,
    progress: Progress | None = None,
    checkpoint: Checkpointer | None = None,
) -> PartFit:
    """One passive's side of an L-BFGS job; returns this passive's weights only."""
    setup, active = job.setup, job.active
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
    run = _PassiveRun(channel, job, std.transform(x), params.device, l2)
    n_weights = x.shape[1]
    at = Iterate(np.zeros(n_weights), Memory(size), None, np.zeros(n_weights))
    schedule = {
        k: getattr(setup, k) for k in ("n_rows", "seed", "epochs", "score_mode", "solver", "memory", "l2")
    }
    key = run_key(
        "passive", {**schedule, "active": active, "he": job.scheme.name, "passives": list(setup.passives)}, x
    )
    done, state = agree_start_passive(channel, active, checkpoint, key)
    stopped = False
    if state is not None:
        at, stopped = Iterate(**Iterate.fields(size, state)), bool(state["stopped"])
    resumed_from = done
    if progress:
        progress("iteration", done, max_iter)
    rounds = 0
    for it in range(done, 0 if stopped else max_iter):
        g = run.gradient(it, at)
        rounds += 1
        pending = run.gram(it, at, g)
        d = run.direction(it, at, g, pending)
        if d is None:
            break
        last = run.step(it, at, d, g)
        done = it + 1
        if checkpoint is not None:
            checkpoint.save(done, {"run_key": key, "step": done, "stopped": last, **at.state()})
        if progress:  # converged: the stage ends at its own count, not at max_iter
            progress("iteration", done, done if last else max_iter)
        if last:
            break

    w = at.w
    parts = report_part(channel, active, part_fingerprint(w, None, std))
    return PartFit(
        weights=w,
        intercept=None,
        standardiser=std,
        epochs_run=done,
        seconds=job.clock.split(channel.stats.wait_seconds - job.wait0),
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
