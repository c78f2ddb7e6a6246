"""The active party (label holder, HE key holder) of SecureBoost: training and inference.

Per tree: compute g, h in plaintext, encrypt them once and send them to every passive; then per
level ask all passives for the encrypted histograms of the level's nodes, decrypt them, pick the
best split of each node over every party's features (its own in plaintext), tell a passive only
about its own winning splits, and learn back only the row partition.
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
    BestSplit,
    SplitRule,
    best_split,
    check_labels,
    fit_bins,
    get_backend,
    gh_shift,
    grad_hess,
    histogram,
    initial_margin,
    leaf_weight,
    route_rows,
    tie_tolerance,
    to_numpy,
    train_loss,
)
from vfl.core.errors import ProtocolError
from vfl.core.progress import Progress
from vfl.crypto import dp
from vfl.crypto.he.base import EncryptedHistogram, HEScheme
from vfl.protocols.secureboost.model import Node, PassiveSplit, Tree
from vfl.protocols.secureboost.resume import Checkpointer, agree_start_active, run_key
from vfl.protocols.secureboost.stages import (
    SBTConfig,
    Topics,
    TreeClock,
    complete_level,
    gh_chunk_rows,
    pack_bits,
    plan_level,
    unpack_bits,
)
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


@dataclass
class _Candidate:
    gain: float
    owner: str
    split: BestSplit


class _Trainer:
    def __init__(
        self,
        channel: Channel,
        X: np.ndarray,
        scheme: HEScheme,
        cfg: SBTConfig,
        passives: list[str],
        backend: Backend,
        categories: list[int] | None = None,
    ):
        self.ch, self.X, self.scheme, self.cfg, self.passives = channel, X, scheme, cfg, passives
        self.backend, self.xp = backend, backend.xp
        self.np_xp = get_backend("cpu").xp
        self.rule = SplitRule(cfg.reg_lambda, cfg.gamma, cfg.min_child_weight)
        self.clock = TreeClock(channel)
        self.mapper = fit_bins(self.xp, backend.asarray(X), cfg.max_bin, categories)
        self.bins = self.mapper.transform(self.xp, backend.asarray(X))
        self.n_bins = cfg.max_bin + 1
        self.shapes: dict[str, int] = {}
        self.chunk_rows = 0  # rows per [[g, h]] chunk, set in setup
        self._done_level = 0
        self.unshift = 1.0  # 2^s of this tree's headroom shift (objectives.gh_shift)
        self.gain = {p: 0.0 for p in [channel.me, *passives]}
        self.splits = {p: 0 for p in [channel.me, *passives]}

    # -- setup ---------------------------------------------------------------------------------
    def setup(self, n: int) -> None:
        self.chunk_rows = gh_chunk_rows(n, self.scheme.gh_chunks)
        with self.clock.crypto():
            ctx = self.scheme.public_context()
        msg = pb.SBTSetup(
            n_rows=n,
            n_trees=self.cfg.n_trees,
            max_depth=self.cfg.max_depth,
            max_bin=self.cfg.max_bin,
            he_context=ctx,
            gh_chunk_rows=self.chunk_rows,
        )
        self.ch.broadcast(Topics.SETUP, msg, self.passives)
        for p in self.passives:
            info = self.ch.recv(p, Topics.INFO, pb.SBTPassiveInfo)
            if info.n_rows != n:
                raise ProtocolError(
                    f"{p} holds {info.n_rows} rows, the label holder {n}",
                    "align all parties' rows with `vfl psi` before training",
                )
            if info.n_bins != self.n_bins or info.n_features < 1:
                raise ProtocolError(
                    f"{p} announced {info.n_features} features x {info.n_bins} "
                    f"bins; expected >= 1 x {self.n_bins}"
                )
            self.shapes[p] = int(info.n_features)

    # -- one tree ------------------------------------------------------------------------------
    def grow(self, t: int, output: int, g: np.ndarray, h: np.ndarray) -> tuple[Tree, np.ndarray]:
        cfg, xp = self.cfg, self.xp
        n = len(g)
        sample = cfg.row_sample(t, n)
        in_sample = np.ones(n, dtype=bool)
        msg = pb.SBTGradients(tree=t)
        if sample is not None:
            in_sample = np.zeros(n, dtype=bool)
            in_sample[sample] = True
            msg.sample_bits.CopyFrom(pack_bits(in_sample))
            msg.n_sampled = len(sample)
            g_enc, h_enc = g[sample], h[sample]
        else:
            g_enc, h_enc = g, h
        shift = gh_shift(g_enc, h_enc)  # stays here: the passives see only ciphertexts
        self.unshift = 2.0**shift
        self._send_gradients(t, msg, np.ldexp(g_enc, -shift), np.ldexp(h_enc, -shift))
        g_x, h_x = self.backend.asarray(g), self.backend.asarray(h)

        tree = Tree(output, [Node(0, 0, n_rows=n)])
        # node_rows: every row reaching a node (partitions, leaf of each row); grown: the
        # sampled ones, which alone make the histograms, the child limits and the leaf values
        node_rows: dict[int, np.ndarray] = {0: np.arange(n)}
        grown: dict[int, np.ndarray] = {0: np.arange(n) if sample is None else sample}
        expand: list[int] = [0]
        pairs: list[tuple[int, int, int]] = []
        partitions: list[pb.NodePartition] = []
        own_hists: dict[int, Any] = {}
        pas_hists: dict[str, dict[int, Any]] = {p: {} for p in self.passives}
        n_leaves = 1
        level = 0
        while expand:
            build, derive = plan_level(expand, pairs, grown)
            plan = pb.SBTLevelPlan(tree=t, level=level, partitions=partitions, build=build)
            self.ch.broadcast(Topics.plan(t, level), plan, self.passives)
            own_built = {
                nd: histogram(xp, self.bins, g_x, h_x, self.backend.asarray(grown[nd]), self.n_bins)
                for nd in build
            }
            own_hists = complete_level(own_built, derive, own_hists)
            cands = {nd: self._own_candidate(*own_hists[nd]) for nd in expand}
            for p in self.passives:
                pas_hists[p] = self._passive_candidates(p, t, level, build, derive, pas_hists[p], cands)
            chosen = sorted(((c.gain, nd) for nd, c in cands.items() if c is not None), reverse=True)
            if cfg.max_leaves is not None:
                chosen = chosen[: max(cfg.max_leaves - n_leaves, 0)]
            winners = sorted(nd for _, nd in chosen)
            n_leaves += len(winners)
            bits = self._split(t, level, winners, cands, tree, node_rows)
            expand, pairs, partitions = [], [], []
            for nd in winners:
                node = tree.nodes[nd]
                rows = node_rows[nd]
                left, right = len(tree.nodes), len(tree.nodes) + 1
                node.left, node.right = left, right
                node_rows[left], node_rows[right] = rows[bits[nd]], rows[~bits[nd]]
                for c in (left, right):
                    grown[c] = node_rows[c][in_sample[node_rows[c]]]
                    tree.nodes.append(Node(c, level + 1, n_rows=len(node_rows[c])))
                    if self._expandable(level + 1, grown[c], h):
                        expand.append(c)
                partitions.append(
                    pb.NodePartition(
                        node=nd, left=left, right=right, n_rows=len(rows), left_bits=pack_bits(bits[nd])
                    )
                )
                pairs.append((nd, left, right))
            level += 1
        self._done_level = level  # close_tree sends the closing plan once the tree is saved

        leaf_of_row = np.zeros(n, dtype=np.int64)
        for node in tree.nodes:
            if node.is_leaf:
                rows = grown[node.id]
                node.value = float(
                    leaf_weight(g[rows].sum(), h[rows].sum(), cfg.reg_lambda, cfg.learning_rate)
                )
                leaf_of_row[node_rows[node.id]] = node.id
        return tree, leaf_of_row

    def _send_gradients(self, t: int, first: pb.SBTGradients, g: np.ndarray, h: np.ndarray) -> None:
        """Encrypt and send [[g, h]] chunk by chunk (``gh_chunk_rows`` rows each), so the
        passives sum the first chunk's buckets while this party encrypts the next."""
        step = self.chunk_rows or len(g)
        n_chunks = -(-len(g) // step)
        chunks = self.scheme.encrypt_gh_chunks(g, h, self.chunk_rows)
        for c in range(n_chunks):
            msg = first if c == 0 else pb.SBTGradients(tree=t, chunk=c)
            msg.n_chunks = n_chunks
            with self.clock.crypto():
                enc = next(chunks)
                msg.gh.CopyFrom(self.scheme.serialize(enc, self.ch.job_id))
            self.clock.count("encrypt", len(enc))
            for p in self.passives:
                self.ch.send(p, Topics.gradients(t, c), msg)

    def close_tree(self, t: int) -> None:
        """Tell the passives tree ``t`` is complete. Sent after the active's checkpoint of the
        tree, so a passive (which saves on receipt) never holds a tree the active lacks and a
        resumed job always finds a common step."""
        level = self._done_level
        self.ch.broadcast(
            Topics.plan(t, level), pb.SBTLevelPlan(tree=t, level=level, done=True), self.passives
        )

    def _expandable(self, depth: int, rows: np.ndarray, h: np.ndarray) -> bool:
        return (
            depth < self.cfg.max_depth
            and len(rows) >= 2
            and float(h[rows].sum()) >= 2 * self.cfg.min_child_weight
        )

    def _own_candidate(self, G: Any, H: Any) -> _Candidate | None:
        bs = best_split(self.xp, G, H, self.rule)
        return None if bs is None else _Candidate(bs.gain, self.ch.me, bs)

    def _passive_candidates(
        self,
        p: str,
        t: int,
        level: int,
        build: list[int],
        derive: list[tuple[int, int, int]],
        parents: dict[int, Any],
        cands: dict[int, _Candidate | None],
    ) -> dict[int, Any]:
        """Decrypt ``p``'s built histograms, derive the siblings, update each node's best."""
        msg = self.ch.recv(p, Topics.histograms(t, level), pb.SBTHistograms)
        got = [nh.node for nh in msg.nodes]
        if msg.tree != t or msg.level != level or got != build:
            raise ProtocolError(
                f"{p} sent histograms for tree {msg.tree} level {msg.level} nodes "
                f"{got}; expected tree {t} level {level} nodes {build}"
            )
        built = {}
        for nh in msg.nodes:
            with self.clock.crypto():
                hist = self.scheme.deserialize(nh.hist, self.ch.job_id)
                if not isinstance(hist, EncryptedHistogram):
                    raise ProtocolError(f"{p} sent a vector where a histogram was expected")
                G, H = self.scheme.decrypt_histogram(hist)
            G, H = G * self.unshift, H * self.unshift
            if G.shape != (self.shapes[p], self.n_bins) or H.shape != G.shape:
                raise ProtocolError(
                    f"{p} sent a {G.shape} histogram for node {nh.node}, "
                    f"expected ({self.shapes[p]}, {self.n_bins})"
                )
            built[nh.node] = (G, H)
        hists = complete_level(built, derive, parents)
        for nd in cands:
            bs = best_split(self.np_xp, *hists[nd], self.rule)
            best = cands[nd]
            if bs is not None and (best is None or bs.gain > best.gain + tie_tolerance(best.gain)):
                cands[nd] = _Candidate(bs.gain, p, bs)
        return hists

    def _split(
        self,
        t: int,
        level: int,
        winners: list[int],
        cands: dict[int, _Candidate | None],
        tree: Tree,
        node_rows: dict[int, np.ndarray],
    ) -> dict[int, np.ndarray]:
        """Apply the level's winning splits: own ones locally, passive ones by asking the owner."""
        bits: dict[int, np.ndarray] = {}
        asks: dict[str, list[pb.SplitDecision]] = {p: [] for p in self.passives}
        for nd in winners:
            c = cands[nd]
            assert c is not None
            node, bs = tree.nodes[nd], c.split
            node.owner, node.gain = c.owner, c.gain
            self.gain[c.owner] += c.gain
            self.splits[c.owner] += 1
            if c.owner == self.ch.me:
                node.feature, node.default_left = bs.feature, bs.default_left
                node.threshold = self.mapper.threshold(bs.feature, bs.bin)
                split = PassiveSplit(bs.feature, node.threshold, bs.default_left)
                bits[nd] = split.go_left(self.X[node_rows[nd], bs.feature])
            else:
                cand = bs.feature * (self.n_bins - 1) + bs.bin
                asks[c.owner].append(pb.SplitDecision(node=nd, candidate=cand, default_left=bs.default_left))
        for p in self.passives:
            self.ch.send(
                p, Topics.decisions(t, level), pb.SBTSplitDecisions(tree=t, level=level, decisions=asks[p])
            )
        for p in self.passives:
            out = self.ch.recv(p, Topics.outcomes(t, level), pb.SBTSplitOutcomes)
            want = [d.node for d in asks[p]]
            if out.tree != t or out.level != level or [o.node for o in out.outcomes] != want:
                raise ProtocolError(
                    f"{p} answered splits of nodes {[o.node for o in out.outcomes]}"
                    f" at tree {out.tree} level {out.level}; asked for {want}"
                )
            for o in out.outcomes:
                rows = node_rows[o.node]
                if o.n_rows != len(rows):
                    raise ProtocolError(
                        f"{p} partitioned {o.n_rows} rows of node {o.node}, which has {len(rows)}"
                    )
                bits[o.node] = unpack_bits(o.left_bits, len(rows), f"{p}'s partition of {o.node}")
                tree.nodes[o.node].split_id = int(o.split_id)
        return bits


def _dp_gh(
    g: np.ndarray, h: np.ndarray, cfg: SBTConfig, sigma: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Clip g to [-c, c] and h to [0, c], add N(0, sigma^2) noise; noisy h is floored at 0."""
    c = cfg.dp_clip
    g = np.clip(g, -c, c) + dp.gaussian_noise(g.shape, sigma, rng)
    h = np.clip(h, 0.0, c) + dp.gaussian_noise(h.shape, sigma, rng)
    return g, np.maximum(h, 0.0)


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
) -> ActiveResult:
    """Train the whole ensemble as the label holder; passives run :func:`train_passive`.
    With ``checkpoint``: save after every tree and continue from the newest tree all parties
    hold (:mod:`vfl.protocols.secureboost.resume`). ``offset``: each row's starting margin
    (xgboost's base_margin; it never leaves this party). ``categories[f]`` > 0: own feature f
    holds that many category codes (one bin each)."""
    backend = backend or get_backend("cpu")
    xp = backend.xp
    y = np.asarray(y, dtype=np.float64)
    n = len(y)
    cfg = cfg.with_labels(y)
    check_labels(cfg.objective, y, cfg.num_class)
    if not scheme.has_secret_key:
        raise ProtocolError(
            "the active party needs the HE secret key",
            "build the scheme with make_scheme() at the label holder",
        )
    t_setup = time.perf_counter()
    tr = _Trainer(channel, np.asarray(X, dtype=np.float64), scheme, cfg, passives, backend, categories)
    tr.setup(n)
    setup_seconds = time.perf_counter() - t_setup
    k_out = cfg.trees_per_round
    m0, start = initial_margin(cfg.objective, y, cfg.base_score, offset)
    margin = np.repeat(start[:, None], k_out, axis=1)
    rho = cfg.tweedie_variance_power
    y_x = backend.asarray(y)
    sigma, dp_stats = 0.0, {}
    if cfg.dp_epsilon is not None:
        # Neighbouring label sets move one row's (g, h) by at most (2c, c) in L2.
        sens = float(np.hypot(2 * cfg.dp_clip, cfg.dp_clip))
        z = dp.calibrate_noise(cfg.dp_epsilon, cfg.dp_delta, 1.0, cfg.n_trees)
        sigma = z * sens
        dp_stats = {
            "epsilon": cfg.dp_epsilon,
            "delta": cfg.dp_delta,
            "noise_multiplier": z,
            "sigma": sigma,
            "clip": cfg.dp_clip,
            "steps": cfg.n_trees,
            "accounted_epsilon": dp.DPAccountant(z, 1.0, cfg.n_trees, cfg.dp_delta).epsilon(),
        }
        dp_rng = dp_rng or dp.secure_rng()
    trees: list[Tree] = []
    key = run_key(
        "sbt-active",
        {**cfg.to_dict(), "passives": passives, "he": scheme.name},
        np.asarray(X, dtype=np.float64),
        y,
        start,
    )
    done, state = agree_start_active(channel, passives, checkpoint, key)
    round_margin = margin.copy()  # g, h of a round come from the margin at its start
    if state is not None:
        trees = [Tree.from_dict(d) for d in state["trees"]]
        margin, round_margin = np.array(state["margin"]), np.array(state["round_margin"])
        tr.gain, tr.splits = dict(state["gain"]), dict(state["splits"])
    if progress:
        progress("tree", done, cfg.n_trees)  # the stage starts now (after setup and resume)
    for r in range(done // k_out, cfg.n_estimators):
        if r * k_out >= done:
            round_margin = margin.copy()
        m_x = backend.asarray(round_margin if k_out > 1 else round_margin[:, 0])
        g_x, h_x = grad_hess(xp, cfg.objective, y_x, m_x, variance_power=rho)
        g_all = to_numpy(g_x).reshape(n, k_out)
        h_all = to_numpy(h_x).reshape(n, k_out)
        for k in range(k_out):
            t = r * k_out + k
            if t < done:
                continue
            tr.clock.start()
            g, h = np.ascontiguousarray(g_all[:, k]), np.ascontiguousarray(h_all[:, k])
            if cfg.dp_epsilon is not None:
                assert dp_rng is not None
                g, h = _dp_gh(g, h, cfg, sigma, dp_rng)
            tree, leaf_of_row = tr.grow(t, k, g, h)
            _, _, values = tree.arrays()
            margin[:, k] += values[leaf_of_row]
            trees.append(tree)
            rec = tr.clock.stop(t)
            m_now = margin if k_out > 1 else margin[:, 0]
            rec["loss"] = train_loss(tr.np_xp, cfg.objective, y, m_now, variance_power=rho)
            if checkpoint is not None:
                checkpoint.save(
                    t + 1,
                    {
                        "run_key": key,
                        "step": t + 1,
                        "margin": margin,
                        "round_margin": round_margin,
                        "gain": tr.gain,
                        "splits": tr.splits,
                        "trees": [x.to_dict() for x in trees],
                    },
                )
            tr.close_tree(t)
            if progress:
                progress("tree", t + 1, cfg.n_trees)
    stats = {
        "trees": tr.clock.trees,
        "loss_metric": LOSS_METRIC[cfg.objective],
        "gain": tr.gain,
        "splits": tr.splits,
        "dp": dp_stats,
        "he": scheme.name,
        "setup_seconds": setup_seconds,
        "resumed_from_tree": done,
    }
    return ActiveResult(trees, m0, tr.mapper.cuts, stats, cfg.num_class)


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
    xp = backend.xp
    X = np.asarray(X, dtype=np.float64)
    n = X.shape[0]
    wanted = {p: [nd.split_id for t in trees for nd in t.nodes if nd.owner == p] for p in passives}
    nonce = secrets.randbits(63)
    for p in passives:
        channel.send(
            p, Topics.PREDICT_REQUEST, pb.SBTPredictRequest(n_rows=n, split_ids=wanted[p], nonce=nonce)
        )
    routed: dict[tuple[str, int], np.ndarray] = {}
    for p in passives:
        msg = channel.recv(p, Topics.PREDICT_ROUTING, pb.SBTRouting)
        if msg.nonce != nonce or list(msg.split_ids) != wanted[p] or msg.n_rows != n:
            raise ProtocolError(
                f"{p} answered another prediction request", "run one prediction at a time per job"
            )
        raw = from_ndarray(msg.left_bits)
        if raw.dtype != np.uint8 or raw.shape != (len(wanted[p]), (n + 7) // 8):
            raise ProtocolError(f"{p} sent routing bits of shape {raw.shape}")
        bits = np.unpackbits(raw, axis=1, count=n).astype(bool)
        for i, sid in enumerate(wanted[p]):
            routed[(p, sid)] = bits[i]
    margin = np.full((n, n_outputs), base)
    if offset is not None:
        margin += np.asarray(offset, dtype=np.float64).reshape(n, 1)
    for tree in trees:
        rows: list[np.ndarray] = []
        slot = np.full(len(tree.nodes), -1, dtype=np.int64)
        for nd in tree.nodes:
            if nd.is_leaf:
                continue
            slot[nd.id] = len(rows)
            if nd.owner == channel.me:
                split = PassiveSplit(nd.feature, nd.threshold, nd.default_left)
                rows.append(split.go_left(X[:, nd.feature]))
            else:
                rows.append(routed[(nd.owner, nd.split_id)])
        go_left = np.stack(rows) if rows else np.zeros((0, n), dtype=bool)
        left, right, values = tree.arrays()
        leaf = to_numpy(
            route_rows(
                xp,
                backend.asarray(go_left),
                backend.asarray(slot),
                backend.asarray(left),
                backend.asarray(right),
                tree.depth(),
            )
        )
        margin[:, tree.output] += values[leaf]
    return margin
