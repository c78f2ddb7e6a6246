"""The active party (label holder, HE key holder) of SecureBoost: training and inference.

Per tree: compute g, h in plaintext, encrypt them once and send them to every passive; then per
level ask all passives for the encrypted histograms of the level's nodes, decrypt them, pick the
best split of each node over every party's features (its own in plaintext), tell a passive only
about its own winning splits, and learn back only the row partition. The growth of one tree is
:mod:`vfl.protocols.secureboost.active_tree`; this module runs the rounds around it.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vfl.compute import (
    LOSS_METRIC,
    Backend,
    check_labels,
    get_backend,
    grad_hess,
    initial_margin,
    route_rows,
    to_numpy,
    train_loss,
)
from vfl.core.errors import ProtocolError
from vfl.core.progress import Progress
from vfl.crypto import dp
from vfl.crypto.he.base import HEScheme
from vfl.executor.base import Executor
from vfl.executor.he import HEWork
from vfl.protocols.secureboost.active_tree import TreeGrower
from vfl.protocols.secureboost.model import PassiveSplit, Tree
from vfl.protocols.secureboost.resume import Checkpointer, agree_start_active, run_key
from vfl.protocols.secureboost.stages import SBTConfig, Topics
from vfl.transport.channel import Channel
from vfl.wire.arrays import from_ndarray
from vfl.wire.v1 import secureboost_pb2 as pb

__all__ = ["ActiveResult", "predict_active", "train_active"]


@dataclass
class ActiveResult:
    trees: list[Tree]
    base_margin: float  # 0 when trained with an offset (the rows started at their offsets)
    bin_cuts: list[np.ndarray]
    stats: dict[str, Any] = field(default_factory=dict)
    num_class: int | None = None  # as trained (inferred from the labels where left out)


def _dp_gh(
    g: np.ndarray, h: np.ndarray, cfg: SBTConfig, sigma: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Clip g to [-c, c] and h to [0, c], add N(0, sigma^2) noise; noisy h is floored at 0."""
    c = cfg.dp_clip
    g = np.clip(g, -c, c) + dp.gaussian_noise(g.shape, sigma, rng)
    h = np.clip(h, 0.0, c) + dp.gaussian_noise(h.shape, sigma, rng)
    return g, np.maximum(h, 0.0)


def _dp_noise(
    cfg: SBTConfig, rng: np.random.Generator | None
) -> tuple[float, dict[str, Any], np.random.Generator | None]:
    """Label-DP on every tree's (g, h): the noise's sigma, its accounting (for the stats) and
    the generator; sigma 0 and no stats when DP is off."""
    if cfg.dp_epsilon is None:
        return 0.0, {}, rng
    # Neighbouring label sets move one row's (g, h) by at most (2c, c) in L2.
    sens = float(np.hypot(2 * cfg.dp_clip, cfg.dp_clip))
    z = dp.calibrate_noise(cfg.dp_epsilon, cfg.dp_delta, 1.0, cfg.n_trees)
    sigma = z * sens
    stats = {
        "epsilon": cfg.dp_epsilon,
        "delta": cfg.dp_delta,
        "noise_multiplier": z,
        "sigma": sigma,
        "clip": cfg.dp_clip,
        "steps": cfg.n_trees,
        "accounted_epsilon": dp.DPAccountant(z, 1.0, cfg.n_trees, cfg.dp_delta).epsilon(),
    }
    return sigma, stats, rng or dp.secure_rng()


@dataclass
class _Ensemble:
    """Where the run stands: the trees so far, every row's margin, and the margin at the start
    of the current round (a round's g, h come from there, for every class's tree)."""

    trees: list[Tree]
    margin: np.ndarray
    round_margin: np.ndarray

    @classmethod
    def start(cls, margin: np.ndarray, state: dict[str, Any] | None, grower: TreeGrower) -> _Ensemble:
        """A fresh ensemble at ``margin``, or the checkpointed one (and its gain counts)."""
        if state is None:
            return cls([], margin, margin.copy())
        grower.gain, grower.splits = dict(state["gain"]), dict(state["splits"])
        trees = [Tree.from_dict(d) for d in state["trees"]]
        return cls(trees, np.array(state["margin"]), np.array(state["round_margin"]))

    def state(self, key: str, step: int, grower: TreeGrower) -> dict[str, Any]:
        return {
            "run_key": key,
            "step": step,
            "margin": self.margin,
            "round_margin": self.round_margin,
            "gain": grower.gain,
            "splits": grower.splits,
            "trees": [x.to_dict() for x in self.trees],
        }


class _ActiveRun:
    """What stays fixed over one training run of the label holder: the labels, the tree
    grower, the run key, the DP noise and where to report; one method per step of a round."""

    def __init__(
        self,
        grower: TreeGrower,
        y: np.ndarray,
        key: str,
        noise: tuple[float, np.random.Generator | None],
        checkpoint: Checkpointer | None,
        progress: Progress | None,
    ) -> None:
        self.grower, self.cfg, self.y, self.key = grower, grower.cfg, y, key
        self.backend = grower.backend
        self.y_x = self.backend.asarray(y)
        self.sigma, self.dp_rng = noise
        self.checkpoint, self.progress = checkpoint, progress
        self.k_out = self.cfg.trees_per_round
        self._zeros_charged = 0  # of the run's [[0]] spans, those already in a tree's crypto

    def train(self, done: int, ens: _Ensemble) -> None:
        """Every round from the one holding tree ``done`` (the agreed restart)."""
        if self.progress:
            self.progress("tree", done, self.cfg.n_trees)  # the stage starts now (after setup and resume)
        for r in range(done // self.k_out, self.cfg.n_estimators):
            if r * self.k_out >= done:
                ens.round_margin = ens.margin.copy()
            g_all, h_all = self.gradients(ens.round_margin)
            for k in range(self.k_out):
                t = r * self.k_out + k
                if t >= done:
                    self.grow_tree(t, k, g_all[:, k], h_all[:, k], ens)

    def gradients(self, round_margin: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The round's g, h: one (n, trees per round) column per class's tree."""
        n = len(self.y)
        xp, rho = self.backend.xp, self.cfg.tweedie_variance_power
        m_x = self.backend.asarray(round_margin if self.k_out > 1 else round_margin[:, 0])
        g_x, h_x = grad_hess(xp, self.cfg.objective, self.y_x, m_x, variance_power=rho)
        return to_numpy(g_x).reshape(n, self.k_out), to_numpy(h_x).reshape(n, self.k_out)

    def grow_tree(self, t: int, k: int, g: np.ndarray, h: np.ndarray, ens: _Ensemble) -> None:
        """Grow tree ``t`` on margin column ``k`` and add its leaves to the margin."""
        self.grower.clock.start()
        g, h = np.ascontiguousarray(g), np.ascontiguousarray(h)
        if self.cfg.dp_epsilon is not None:
            assert self.dp_rng is not None
            g, h = _dp_gh(g, h, self.cfg, self.sigma, self.dp_rng)
        tree, leaf_of_row = self.grower.grow(t, k, g, h)
        _, _, values = tree.arrays()
        ens.margin[:, k] += values[leaf_of_row]
        ens.trees.append(tree)
        spans = self.grower.zero_spans()  # those made for this tree (the first: from the setup on)
        made = spans[self._zeros_charged :]
        self.grower.clock.add_background(sum(min(z.cpu, z.end - z.start) for z in made))
        self._zeros_charged = len(spans)
        self.end_tree(t, ens)

    def end_tree(self, t: int, ens: _Ensemble) -> None:
        """Record the loss, save the tree, and only then close it at the passives."""
        cfg = self.cfg
        rec = self.grower.clock.stop(t)
        m_now = ens.margin if self.k_out > 1 else ens.margin[:, 0]
        rho = cfg.tweedie_variance_power
        rec["loss"] = train_loss(self.grower.np_xp, cfg.objective, self.y, m_now, variance_power=rho)
        if self.checkpoint is not None:
            self.checkpoint.save(t + 1, ens.state(self.key, t + 1, self.grower))
        self.grower.close_tree(t)
        if self.progress:
            self.progress("tree", t + 1, cfg.n_trees)


def train_active(
    channel: Channel,
    X: np.ndarray,
    y: np.ndarray,
    scheme: HEScheme,
    cfg: SBTConfig,
    *,
    passives: list[str],
    backend: Backend | None = None,
    progress: Progress | None = None,
    dp_rng: np.random.Generator | None = None,
    checkpoint: Checkpointer | None = None,
    offset: np.ndarray | None = None,
    categories: list[int] | None = None,
    executor: Executor | None = None,
) -> ActiveResult:
    """Train the whole ensemble as the label holder; passives run :func:`train_passive`.
    With ``checkpoint``: save after every tree and continue from the newest tree all parties
    hold (:mod:`vfl.protocols.secureboost.resume`). ``offset``: each row's starting margin
    (xgboost's base_margin; it never leaves this party). ``categories[f]`` > 0: own feature f
    holds that many category codes (one bin each). ``executor``: where [[g, h]] is encrypted
    (:mod:`vfl.executor.he`; none: this process)."""
    backend = backend or get_backend("cpu")
    y = np.asarray(y, dtype=np.float64)
    cfg = cfg.with_labels(y)
    check_labels(cfg.objective, y, cfg.num_class)
    if not scheme.has_secret_key:
        raise ProtocolError(
            "the active party needs the HE secret key",
            "build the scheme with make_scheme() at the label holder",
        )
    X = np.asarray(X, dtype=np.float64)
    t_setup = time.perf_counter()
    grower = TreeGrower(
        channel, X, HEWork(scheme, executor, channel.job_id), cfg, passives, backend, categories
    )
    try:
        grower.setup(len(y))
        setup_seconds = time.perf_counter() - t_setup
        m0, start = initial_margin(cfg.objective, y, cfg.base_score, offset)
        sigma, dp_stats, dp_rng = _dp_noise(cfg, dp_rng)
        key = run_key("sbt-active", {**cfg.to_dict(), "passives": passives, "he": scheme.name}, X, y, start)
        done, state = agree_start_active(channel, passives, checkpoint, key)
        ens = _Ensemble.start(np.repeat(start[:, None], cfg.trees_per_round, axis=1), state, grower)
        _ActiveRun(grower, y, key, (sigma, dp_rng), checkpoint, progress).train(done, ens)
    finally:
        scheme.discard_zeros()  # the [[0]]s made ahead for a tree that will not come
    stats = {
        "trees": grower.clock.trees,
        "loss_metric": LOSS_METRIC[cfg.objective],
        "gain": grower.gain,
        "splits": grower.splits,
        "dp": dp_stats,
        "he": scheme.name,
        "setup_seconds": setup_seconds,
        "resumed_from_tree": done,
        "crypto_busy_seconds": grower.clock.busy_seconds(grower.zero_spans()),
    }
    return ActiveResult(ens.trees, m0, grower.mapper.cuts, stats, cfg.num_class)


def predict_active(
    channel: Channel,
    X: np.ndarray,
    trees: list[Tree],
    *,
    base: float,
    n_outputs: int,
    passives: list[str],
    backend: Backend | None = None,
    offset: np.ndarray | None = None,
) -> np.ndarray:
    """Raw margins (n, n_outputs), from ``base`` plus each row's ``offset`` where given; each
    passive sends only the routing bits of its own splits."""
    backend = backend or get_backend("cpu")
    X = np.asarray(X, dtype=np.float64)
    n = X.shape[0]
    routed = _request_routing(channel, trees, passives, n)
    margin = np.full((n, n_outputs), base)
    if offset is not None:
        margin += np.asarray(offset, dtype=np.float64).reshape(n, 1)
    for tree in trees:
        _, _, values = tree.arrays()
        margin[:, tree.output] += values[_leaves(channel.me, tree, X, routed, backend)]
    return margin


def _request_routing(
    channel: Channel, trees: list[Tree], passives: list[str], n: int
) -> dict[tuple[str, int], np.ndarray]:
    """Ask each passive for the "goes left" bits of its splits the model uses; returns them
    by (owner, split id)."""
    wanted = {p: [nd.split_id for t in trees for nd in t.nodes if nd.owner == p] for p in passives}
    nonce = secrets.randbits(63)
    for p in passives:
        channel.send(
            p, Topics.PREDICT_REQUEST, pb.SBTPredictRequest(n_rows=n, split_ids=wanted[p], nonce=nonce)
        )
    routed: dict[tuple[str, int], np.ndarray] = {}
    for p in passives:
        msg = channel.recv(p, Topics.PREDICT_ROUTING, pb.SBTRouting)
        bits = _routing_bits(p, msg, wanted[p], nonce, n)
        for i, sid in enumerate(wanted[p]):
            routed[(p, sid)] = bits[i]
    return routed


def _routing_bits(p: str, msg: pb.SBTRouting, wanted: list[int], nonce: int, n: int) -> np.ndarray:
    """``p``'s answer as one boolean row per asked split, once it is checked to be this one's."""
    if msg.nonce != nonce or list(msg.split_ids) != wanted or msg.n_rows != n:
        raise ProtocolError(
            f"{p} answered another prediction request", "run one prediction at a time per job"
        )
    raw = from_ndarray(msg.left_bits)
    if raw.dtype != np.uint8 or raw.shape != (len(wanted), (n + 7) // 8):
        raise ProtocolError(f"{p} sent routing bits of shape {raw.shape}")
    return np.unpackbits(raw, axis=1, count=n).astype(bool)


def _leaves(
    me: str, tree: Tree, X: np.ndarray, routed: dict[tuple[str, int], np.ndarray], backend: Backend
) -> np.ndarray:
    """Each row's leaf of ``tree``: own splits on own features, the others by their bits."""
    rows: list[np.ndarray] = []
    slot = np.full(len(tree.nodes), -1, dtype=np.int64)
    for nd in tree.nodes:
        if nd.is_leaf:
            continue
        slot[nd.id] = len(rows)
        if nd.owner == me:
            split = PassiveSplit(nd.feature, nd.threshold, nd.default_left)
            rows.append(split.go_left(X[:, nd.feature]))
        else:
            rows.append(routed[(nd.owner, nd.split_id)])
    n = X.shape[0]
    go_left = np.stack(rows) if rows else np.zeros((0, n), dtype=bool)
    left, right, _ = tree.arrays()
    leaf = route_rows(
        backend.xp,
        backend.asarray(go_left),
        backend.asarray(slot),
        backend.asarray(left),
        backend.asarray(right),
        tree.depth(),
    )
    return to_numpy(leaf)
