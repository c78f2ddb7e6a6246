"""The active party of vertical LR: holds the label and the HE secret key.

Per batch (mini-batch solvers; L-BFGS lives in :mod:`vfl.protocols.lr.active_lbfgs`) it learns
the sum of the passives' partial scores (each passive's own score when there is only one
passive), computes the residual, sends it encrypted, and decrypts gradients that the passives
have masked with one-time pads. It never sees a passive's features or gradient.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from vfl.compute import (
    Backend,
    get_backend,
    linear_scores,
    log_loss,
    logistic,
    lr_gradient,
    lr_residual,
    take_rows,
    to_numpy,
)
from vfl.core.errors import ConfigError
from vfl.core.progress import Progress
from vfl.crypto.dp import DPAccountant, calibrate_noise, clip_rows, gaussian_noise, secure_rng
from vfl.crypto.he.base import HEScheme
from vfl.protocols.lr import stages as S
from vfl.protocols.lr.active_lbfgs import train_active_lbfgs
from vfl.protocols.lr.family import LOGISTIC, Family, family_of
from vfl.protocols.lr.local import Clock, Schedule, Standardiser, make_optimizer
from vfl.protocols.lr.params import LRParams, PartFit, part_fingerprint
from vfl.protocols.lr.resume import Checkpointer, agree_start_active, run_key
from vfl.protocols.lr.rounds import (
    check_labels,
    collect_parts,
    return_masked_gradients,
    sample_weights,
    send_residual,
)
from vfl.protocols.lr.shares import passive_sum
from vfl.transport.channel import Channel
from vfl.wire.v1 import lr_pb2

__all__ = ["predict_active", "train_active"]


def train_active(
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
    """Run the active side of one training job; returns the active's weights and intercept.
    With ``checkpoint``: save after every epoch (L-BFGS: iteration), and continue from the newest
    one that every party holds (see :mod:`vfl.protocols.common.resume`). ``params`` with an
    objective (GLMParams) pick the family; ``offset`` (L-BFGS only) is added to every row's
    linear predictor here and never sent.

    Scores, loss, residual and the active's own gradient run on ``params.device`` (see
    :mod:`vfl.compute.linear`); HE, DP noise and the optimiser stay NumPy float64."""
    train = train_active_lbfgs if params.method == "lbfgs" else _train_minibatch
    return train(
        channel,
        x,
        y,
        passives=passives,
        scheme=scheme,
        params=params,
        progress=progress,
        checkpoint=checkpoint,
        offset=offset,
    )


def _train_minibatch(
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
    """The Adam/SGD epochs (with optional DP): a batch is one :meth:`_MiniBatchRun.step`."""
    if offset is not None or not family_of(params).logistic:
        raise ConfigError("an offset and the non-logistic families need solver 'lbfgs'", "drop solver")
    backend = get_backend(params.device)  # before any message: a bad device stops nobody mid-job
    # the channel's counters run since it opened (PSI too): report this training's share only
    wait0, bytes0 = channel.stats.wait_seconds, channel.stats.total_bytes_sent
    y = check_labels(y)
    n = len(y)
    epochs = params.n_epochs
    sched = Schedule(
        n, params.seed, params.n_batch, params.validation_fraction if params.early_stopping else 0.0
    )
    if sched.n_train < 1:
        raise ConfigError(f"{n} rows leave nothing to train on", "use more rows")
    n_parties = 1 + len(passives)
    sigma, row_clip = _dp_setup(params, sched, n_parties)
    mode = S.SCORE_MASKED if len(passives) >= 2 else S.SCORE_CLEAR

    channel.broadcast(S.T_SETUP, _setup(params, sched, passives, mode, sigma, row_clip, scheme), passives)

    std = Standardiser.fit(x[sched.train_rows])
    xa = np.hstack([std.transform(x), np.ones((n, 1))])  # last column: the intercept
    if row_clip:
        xa = clip_rows(xa, row_clip)
    sw = sample_weights(y, params.class_weight, normalise=sigma > 0)
    run = _MiniBatchRun(channel, scheme, passives, params, backend, xa, y, sw, mode, sigma)

    w = np.zeros(xa.shape[1])
    l2_mask = np.r_[np.ones(xa.shape[1] - 1), 0.0]
    opt = make_optimizer(params.method, params.rate, params.penalty(sched.n_train), params.lr_decay)

    rec = _Record()
    stopped, steps = False, 0
    key = run_key(
        "active",
        {**_settings(params), "sigma": sigma, "row_clip": row_clip, "passives": passives, "he": scheme.name},
        x,
        y,
    )
    epochs_run, state = agree_start_active(channel, passives, checkpoint, key)
    if state is not None:
        w = np.array(state["w"], dtype=np.float64)
        opt.restore(state)
        rec, stopped = _Record.restore(state), bool(state["stopped"])
    resumed_from = epochs_run
    if progress:
        progress("epoch", epochs_run, epochs)  # the stage starts now (after setup and resume)
    for epoch in range(epochs_run, 0 if stopped else epochs):
        epoch_loss = 0.0
        for b, rows in enumerate(sched.batches(epoch)):
            w, loss = run.step(epoch, b, rows, w, partial(opt.step, epoch=epoch, l2_mask=l2_mask))
            epoch_loss += loss
            steps += 1
        rec.losses.append(epoch_loss / float(np.sum(sw[sched.train_rows])))
        epochs_run = epoch + 1
        last = epoch + 1 == epochs
        if sched.n_val:
            val = run.validation_loss(epoch, w, sched.val_rows)
            last = rec.validated(val, params.convergence_tol, params.patience) or last
        decision = S.STOP if last else S.CONTINUE
        if checkpoint is not None:  # before the control: a passive never holds an epoch the active lacks
            head = {"run_key": key, "step": epochs_run, "stopped": last, "w": w}
            checkpoint.save(epochs_run, {**head, **opt.state(), **rec.state()})
        channel.broadcast(S.t_control(epoch), lr_pb2.LRControl(decision=decision, epoch=epoch), passives)
        if progress:
            progress("epoch", epochs_run, epochs)
        if decision == S.STOP:
            break

    parts = collect_parts(channel, passives, part_fingerprint(w[:-1], float(w[-1]), std))

    eps = None
    if sigma > 0:
        dp_steps = epochs_run * sched.batches_per_epoch
        eps = DPAccountant(sigma, _sample_rate(sched), dp_steps, params.dp_delta).epsilon()
    return PartFit(
        weights=w[:-1],
        intercept=float(w[-1]),
        standardiser=std,
        epochs_run=epochs_run,
        loss_history=rec.losses,
        val_loss_history=rec.val_losses,
        seconds=run.clock.split(channel.stats.wait_seconds - wait0),
        bytes_sent=channel.stats.total_bytes_sent - bytes0,
        dp_epsilon=eps,
        dp_delta=params.dp_delta if sigma > 0 else None,
        noise_multiplier=sigma if sigma > 0 else None,
        parts=parts,
        resumed_from=resumed_from,
        solver=params.method,
        n_iter=steps,
        rounds=steps,
    )


@dataclass
class _Record:
    """The losses so far and the early-stopping state (the best validation loss, and how many
    epochs since it last improved)."""

    losses: list[float] = field(default_factory=list)
    val_losses: list[float] = field(default_factory=list)
    best: float = np.inf
    stale: int = 0

    def validated(self, val: float, tol: float, patience: int) -> bool:
        """Record an epoch's validation loss; whether training should stop."""
        self.val_losses.append(val)
        if val < self.best - tol:
            self.best, self.stale = val, 0
            return False
        self.stale += 1
        return self.stale >= patience

    def state(self) -> dict[str, Any]:
        return {"losses": self.losses, "val_losses": self.val_losses, "best": self.best, "stale": self.stale}

    @classmethod
    def restore(cls, state: dict[str, Any]) -> _Record:
        return cls(
            list(state["losses"]), list(state["val_losses"]), float(state["best"]), int(state["stale"])
        )


def _setup(
    params: LRParams,
    sched: Schedule,
    passives: list[str],
    mode: str,
    sigma: float,
    row_clip: float,
    scheme: HEScheme,
) -> lr_pb2.LRSetup:
    """The mini-batch schedule every passive follows (and checks against its rows)."""
    setup = lr_pb2.LRSetup(
        n_rows=sched.n_rows,
        seed=params.seed,
        epochs=params.n_epochs,
        batch_size=params.n_batch,
        validation_fraction=sched.validation_fraction,
        early_stopping=sched.n_val > 0,
        passives=passives,
        score_mode=mode,
        frac_bits=S.FRAC_BITS,
        row_clip=row_clip,
        noise_multiplier=sigma,
        grad_mask_bound=params.grad_mask_bound,
    )
    setup.he_context.CopyFrom(scheme.public_context())
    return setup


class _MiniBatchRun:
    """One mini-batch run at the label holder: what stays fixed over the run (the features,
    labels and weights on the device once; per batch only indices travel) and one method per
    exchange (protocols/specs/lr.md: scores in, residual out, masked gradients back)."""

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
        mode: str,
        sigma: float,
    ):
        self.channel, self.scheme, self.passives, self.params = channel, scheme, passives, params
        self.backend, self.xp, self.mode, self.sigma = backend, backend.xp, mode, sigma
        self.xa_dev, self.y_dev, self.sw_dev = backend.asarray(xa), backend.asarray(y), backend.asarray(sw)
        self.sw, self.n_weights = sw, xa.shape[1]
        self.flood = params.ckks_flood_sigma if scheme.name == "ckks" else 0.0
        self.rng = secure_rng()
        self.clock = Clock()

    def on_device(self, rows: np.ndarray) -> tuple[Any, Any, Any]:
        """The rows' features, labels and sample weights, gathered once on the device."""
        xp = self.xp
        return (
            take_rows(xp, self.xa_dev, rows),
            take_rows(xp, self.y_dev, rows),
            take_rows(xp, self.sw_dev, rows),
        )

    def joint_scores(self, xb: Any, w: np.ndarray, topic: str) -> Any:
        """Own partial scores plus the passives' (summed, masked if several) for these rows."""
        own = linear_scores(self.xp, xb, self.backend.asarray(w))
        return own + self.backend.asarray(
            passive_sum(self.channel, self.passives, topic, self.mode, xb.shape[0])
        )

    def weighted_loss(self, p: Any, yb: Any, swb: Any) -> float:
        return float(self.xp.sum(swb * log_loss(self.xp, p, yb)))

    def step(
        self,
        epoch: int,
        b: int,
        rows: np.ndarray,
        w: np.ndarray,
        update: Callable[[np.ndarray, np.ndarray], np.ndarray],
    ) -> tuple[np.ndarray, float]:
        """One batch: the joint scores, the residual out (encrypted), our gradient (DP-noised)
        through ``update``, the passives' masked gradients decrypted back; the new weights and
        the batch's weighted loss."""
        xp, scheme, passives = self.xp, self.scheme, self.passives
        xb, yb, swb = self.on_device(rows)
        p = logistic(xp, self.joint_scores(xb, w, S.t_score(epoch, b)))
        loss = self.weighted_loss(p, yb, swb)
        d = lr_residual(xp, p, yb, swb)
        send_residual(self.channel, scheme, passives, to_numpy(d), S.t_residual(epoch, b), self.clock)
        noise_sd = self.sigma * self.params.clip_norm / len(rows)
        g = to_numpy(lr_gradient(xp, xb, d)) + gaussian_noise(self.n_weights, noise_sd, self.rng)
        w = update(w, g)
        topics = (S.t_grad(epoch, b), S.t_grad_plain(epoch, b))
        return_masked_gradients(
            self.channel, scheme, passives, topics, self.clock, noise_sd, self.flood, self.rng
        )
        return w, loss

    def validation_loss(self, epoch: int, w: np.ndarray, rows: np.ndarray) -> float:
        """The held-out rows' mean weighted loss at ``w`` (their joint scores cross for it)."""
        xv, yv, swv = self.on_device(rows)
        p_val = logistic(self.xp, self.joint_scores(xv, w, S.t_val_score(epoch)))
        return self.weighted_loss(p_val, yv, swv) / float(np.sum(self.sw[rows]))


def predict_active(
    channel: Channel,
    x: np.ndarray,
    *,
    weights: np.ndarray,
    intercept: float,
    standardiser: Standardiser,
    passives: list[str],
    model_job_id: str,
    parts: dict[str, str],
    device: str = "cpu",
    family: Family = LOGISTIC,
    offset: np.ndarray | None = None,
) -> np.ndarray:
    """Federated scoring: returns P(y=1) for every aligned row (passives learn nothing); for
    another ``family`` its mean (or value) at the linear predictor plus ``offset``.
    ``device``: where this party's scores are computed (never sent)."""
    backend = get_backend(device)
    xp = backend.xp
    mode = S.SCORE_MASKED if len(passives) >= 2 else S.SCORE_CLEAR
    n = x.shape[0]
    channel.broadcast(
        S.T_PREDICT_SETUP,
        lr_pb2.LRPredictSetup(
            model_job_id=model_job_id,
            n_rows=n,
            passives=passives,
            score_mode=mode,
            frac_bits=S.FRAC_BITS,
            parts=parts,
        ),
        passives,
    )
    u = linear_scores(xp, backend.asarray(standardiser.transform(x)), backend.asarray(weights)) + intercept
    u = u + backend.asarray(passive_sum(channel, passives, S.T_PREDICT_SCORE, mode, n))
    if family.logistic and offset is None:
        return np.asarray(to_numpy(logistic(xp, u)), dtype=np.float64)
    z = np.asarray(to_numpy(u), dtype=np.float64)
    return family.mean(z if offset is None else z + offset)


# -- helpers ----------------------------------------------------------------------------------
def _settings(params: LRParams) -> dict[str, object]:
    """The parameters that fix the training path (not those that only affect privacy noise)."""
    keep = (
        "solver",
        "epochs",
        "batch_size",
        "learning_rate",
        "optimizer",
        "l2",
        "lr_decay",
        "class_weight",
        "early_stopping",
        "validation_fraction",
        "patience",
        "tol",
        "seed",
        "clip_norm",
    )
    return {k: getattr(params, k) for k in keep}


def _dp_setup(params: LRParams, sched: Schedule, n_parties: int) -> tuple[float, float]:
    """(noise multiplier, per-party row clip): each party clips its rows to C / sqrt(parties),
    so a person's joint row has norm <= C and the joint gradient's sensitivity is C."""
    if params.dp_epsilon is None:
        return 0.0, 0.0
    steps = params.n_epochs * sched.batches_per_epoch
    sigma = calibrate_noise(params.dp_epsilon, params.dp_delta, _sample_rate(sched), steps)
    return sigma, params.clip_norm / np.sqrt(n_parties)


def _sample_rate(sched: Schedule) -> float:
    return min(1.0, sched.batch_size / sched.n_train)
