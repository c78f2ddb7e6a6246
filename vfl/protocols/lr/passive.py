"""A passive party of vertical LR: features only, a public-only HE scheme.

It sends its partial scores (pairwise-masked when there are other passives), computes its
gradient on the encrypted residual, hides it under a one-time mask before the active decrypts
it, and removes the mask itself. It learns nothing but its own gradient (noised under DP). The
active's setup picks the solver: mini-batch here, L-BFGS in :mod:`vfl.protocols.lr.passive_lbfgs`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from vfl.compute import Backend, get_backend, linear_scores, take_rows, to_numpy
from vfl.core.errors import CryptoError, ProtocolError
from vfl.core.progress import Progress
from vfl.crypto.dp import clip_rows
from vfl.crypto.he.base import HEScheme
from vfl.executor.base import Executor
from vfl.executor.he import HEWork
from vfl.protocols.lr import stages as S
from vfl.protocols.lr.local import Clock, Schedule, Standardiser, make_optimizer
from vfl.protocols.lr.masking import agree_pair_seeds
from vfl.protocols.lr.params import LRParams, PartFit, part_fingerprint
from vfl.protocols.lr.passive_lbfgs import PassiveJob, train_passive_lbfgs
from vfl.protocols.lr.resume import Checkpointer, agree_start_passive, run_key
from vfl.protocols.lr.rounds import passive_gradient, report_part
from vfl.protocols.lr.shares import send_share
from vfl.transport.channel import Channel
from vfl.wire.v1 import he_pb2, lr_pb2

__all__ = ["predict_passive", "train_passive"]

#: builds a public-only scheme from the active's context (the runtime injects the HE factory)
OpenScheme = Callable[[he_pb2.PublicContext], HEScheme]


def train_passive(
    channel: Channel,
    x: np.ndarray,
    *,
    active: str,
    open_scheme: OpenScheme,
    params: LRParams,
    progress: Progress | None = None,
    checkpoint: Checkpointer | None = None,
    executor: Executor | None = None,
) -> PartFit:
    """Run one passive's side of a training job; returns this passive's weights only.
    With ``checkpoint``: save after every epoch, and continue from the epoch the active
    announces (see :mod:`vfl.protocols.common.resume`).

    Partial scores run on ``params.device``; the homomorphic gradient, masks and the optimiser
    stay NumPy float64. ``executor``: where X_p^T [[d]] runs (:mod:`vfl.executor.he`; none:
    this process)."""
    backend = get_backend(params.device)  # before any message: a bad device stops nobody mid-job
    job = _accept_setup(channel, active, x.shape[0], open_scheme, executor)
    if job.setup.solver == "lbfgs":
        return train_passive_lbfgs(channel, x, job, params=params, progress=progress, checkpoint=checkpoint)
    if job.setup.solver:
        raise ProtocolError(f"{active} asked for solver {job.setup.solver!r}", "update vfl at every party")
    return _train_minibatch(channel, x, job, backend, params, progress, checkpoint)


def _accept_setup(
    channel: Channel, active: str, n: int, open_scheme: OpenScheme, executor: Executor | None
) -> PassiveJob:
    """The active's setup, checked against our rows and the protocol's rules; the public-only
    scheme it carries; the pairwise mask seeds when several passives mask their scores."""
    clock = Clock()
    # the channel's counters run since it opened (PSI too): report this training's share only
    wait0, bytes0 = channel.stats.wait_seconds, channel.stats.total_bytes_sent
    setup = channel.recv(active, S.T_SETUP, lr_pb2.LRSetup)
    if setup.n_rows != n:
        raise ProtocolError(
            f"{active} trains on {setup.n_rows} aligned rows, {channel.me} holds {n}",
            "re-run the alignment (vfl psi) so that every party holds the same rows",
        )
    if channel.me not in setup.passives or active in setup.passives:
        raise ProtocolError(f"{active}'s setup lists passives {list(setup.passives)}")
    with clock.in_crypto():
        scheme = open_scheme(setup.he_context)
    if scheme.has_secret_key:
        raise CryptoError("the active sent a context with a secret key", "refusing to train")
    mode = S.SCORE_MASKED if len(setup.passives) >= 2 else S.SCORE_CLEAR
    if setup.score_mode != mode:
        raise ProtocolError(
            f"{active} asked for '{setup.score_mode}' scores with "
            f"{len(setup.passives)} passive(s); the protocol requires '{mode}'"
        )
    seeds = agree_pair_seeds(channel, list(setup.passives), S.T_SETUP_KEY) if mode == S.SCORE_MASKED else {}
    return PassiveJob(
        active, setup, HEWork(scheme, executor, channel.job_id), mode, seeds, clock, wait0, bytes0
    )


def _train_minibatch(
    channel: Channel,
    x: np.ndarray,
    job: PassiveJob,
    backend: Backend,
    params: LRParams,
    progress: Progress | None,
    checkpoint: Checkpointer | None,
) -> PartFit:
    """The mini-batch epochs: per batch our scores out and our gradient from the encrypted
    residual; per epoch the validation rows' scores and the active's decision."""
    active, setup, clock = job.active, job.setup, job.clock
    n = x.shape[0]
    sched = Schedule(n, setup.seed, setup.batch_size, setup.validation_fraction)
    if setup.early_stopping != (sched.n_val > 0):
        raise ProtocolError(f"{active}'s validation settings are inconsistent")
    xp = backend.xp

    std = Standardiser.fit(x[sched.train_rows])
    xs = std.transform(x)
    if setup.row_clip > 0:
        xs = clip_rows(xs, setup.row_clip)
    xs_dev = backend.asarray(xs)  # once per job; xs itself feeds the HE dot products
    w = np.zeros(xs.shape[1])
    opt = make_optimizer(
        params.minibatch_optimizer, params.rate, params.penalty(sched.n_train), params.lr_decay
    )
    ones = np.ones_like(w)

    def send_scores(topic: str, rows: np.ndarray) -> None:
        u = linear_scores(xp, take_rows(xp, xs_dev, rows), backend.asarray(w))
        send_share(channel, active, topic, to_numpy(u), job.mode, job.seeds)

    def batch(epoch: int, b: int, rows: np.ndarray) -> np.ndarray:
        """One batch: scores out, the gradient from the encrypted residual, the update."""
        send_scores(S.t_score(epoch, b), rows)
        topics = (S.t_residual(epoch, b), S.t_grad(epoch, b), S.t_grad_plain(epoch, b))
        g = passive_gradient(channel, job.he, active, xs[rows], topics, setup.grad_mask_bound, clock)
        return opt.step(w, g, epoch, ones)

    key = run_key("passive", _run_settings(job, params), x)
    epochs_run, state = agree_start_passive(channel, active, checkpoint, key)
    stopped, steps = False, 0
    if state is not None:
        w = np.array(state["w"], dtype=np.float64)
        opt.restore(state)
        stopped = bool(state["stopped"])
    resumed_from = epochs_run
    if progress:
        progress("epoch", epochs_run, setup.epochs)  # the stage starts now (after setup and resume)
    for epoch in range(epochs_run, 0 if stopped else setup.epochs):
        for b, rows in enumerate(sched.batches(epoch)):
            w = batch(epoch, b, rows)
            steps += 1
        if sched.n_val:
            send_scores(S.t_val_score(epoch), sched.val_rows)
        ctl = channel.recv(active, S.t_control(epoch), lr_pb2.LRControl)
        if ctl.decision not in (S.CONTINUE, S.STOP) or ctl.epoch != epoch:
            raise ProtocolError(f"{active} sent control {ctl.decision!r} for epoch {ctl.epoch}")
        epochs_run = epoch + 1
        if checkpoint is not None:
            state = {"run_key": key, "step": epochs_run, "stopped": ctl.decision == S.STOP, "w": w}
            checkpoint.save(epochs_run, {**state, **opt.state()})
        if progress:
            progress("epoch", epochs_run, setup.epochs)
        if ctl.decision == S.STOP:
            break

    parts = report_part(channel, active, part_fingerprint(w, None, std))
    dp = setup.noise_multiplier > 0
    return PartFit(
        weights=w,
        intercept=None,
        standardiser=std,
        epochs_run=epochs_run,
        seconds=clock.split(channel.stats.wait_seconds - job.wait0),
        bytes_sent=channel.stats.total_bytes_sent - job.bytes0,
        noise_multiplier=setup.noise_multiplier if dp else None,
        parts=parts,
        resumed_from=resumed_from,
        solver=params.minibatch_optimizer,
        n_iter=steps,
        rounds=steps,
    )


def _run_settings(job: PassiveJob, params: LRParams) -> dict[str, object]:
    """What a mini-batch run key binds: the active's schedule and our own optimiser."""
    keys = (
        "n_rows",
        "seed",
        "epochs",
        "batch_size",
        "score_mode",
        "validation_fraction",
        "row_clip",
        "noise_multiplier",
    )
    schedule = {k: getattr(job.setup, k) for k in keys}
    own = {k: getattr(params, k) for k in ("solver", "optimizer", "learning_rate", "l2", "lr_decay")}
    return {
        **schedule,
        **own,
        "active": job.active,
        "he": job.scheme.name,
        "passives": list(job.setup.passives),
    }


def predict_passive(
    channel: Channel,
    x: np.ndarray,
    *,
    weights: np.ndarray,
    standardiser: Standardiser,
    active: str,
    model_job_id: str,
    fingerprint: str,
    device: str = "cpu",
) -> None:
    """Send this passive's partial scores (masked if other passives take part); learn nothing.
    ``device``: where this party's scores are computed (never sent)."""
    backend = get_backend(device)
    setup = channel.recv(active, S.T_PREDICT_SETUP, lr_pb2.LRPredictSetup)
    if setup.model_job_id != model_job_id or setup.parts.get(channel.me) != fingerprint:
        raise ProtocolError(
            f"{active} scores with the model of job {setup.model_job_id}, but {channel.me}'s "
            f"part comes from job {model_job_id} or differs from the part trained there",
            "use model files from the same training job at every party",
        )
    n = x.shape[0]
    if setup.n_rows != n:
        raise ProtocolError(
            f"{active} scores {setup.n_rows} rows, {channel.me} holds {n}",
            "align the scoring data (vfl psi) first",
        )
    mode = S.SCORE_MASKED if len(setup.passives) >= 2 else S.SCORE_CLEAR
    if setup.score_mode != mode or channel.me not in setup.passives:
        raise ProtocolError(f"{active}'s scoring setup is inconsistent ({setup.score_mode})")
    seeds = agree_pair_seeds(channel, list(setup.passives), S.T_PREDICT_KEY) if mode == S.SCORE_MASKED else {}
    u = linear_scores(backend.xp, backend.asarray(standardiser.transform(x)), backend.asarray(weights))
    send_share(channel, active, S.T_PREDICT_SCORE, to_numpy(u), mode, seeds)
