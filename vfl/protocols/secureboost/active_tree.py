"""The label holder's growth of one SecureBoost tree (protocols/specs/secureboost.md, messages
3-7): send the tree's [[g, h]], then per level plan the histograms, find every node's best
split over all parties' features, apply the winners (own ones here, a passive's by asking it)
and grow the children; the leaves take their values from the plaintext g, h.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vfl.compute import (
    Backend,
    BestSplit,
    SplitRule,
    best_split,
    fit_bins,
    get_backend,
    gh_shift,
    histogram,
    leaf_weight,
    tie_tolerance,
)
from vfl.core.errors import ProtocolError
from vfl.crypto.he.base import EncryptedHistogram, ZeroSpan
from vfl.executor.he import HEWork
from vfl.protocols.secureboost.model import Node, PassiveSplit, Tree
from vfl.protocols.secureboost.stages import (
    SBTConfig,
    Topics,
    TreeClock,
    chunk_lengths,
    complete_level,
    gh_chunk_rows,
    pack_bits,
    plan_level,
    unpack_bits,
)
from vfl.transport.channel import Channel
from vfl.wire.v1 import secureboost_pb2 as pb

__all__ = ["TreeGrower"]


@dataclass
class _Candidate:
    gain: float
    owner: str
    split: BestSplit


@dataclass
class _Growth:
    """Where one tree's growth stands. ``node_rows``: every row reaching a node (partitions,
    leaf of each row); ``grown``: the sampled ones, which alone make the histograms, the child
    limits and the leaf values. ``g``, ``h`` are the plaintext ones (unshifted)."""

    t: int
    tree: Tree
    g: np.ndarray
    h: np.ndarray
    g_x: Any
    h_x: Any
    in_sample: np.ndarray
    unshift: float  # 2^s of this tree's headroom shift (objectives.gh_shift)
    node_rows: dict[int, np.ndarray]
    grown: dict[int, np.ndarray]
    pas_hists: dict[str, dict[int, tuple[Any, Any]]]
    expand: list[int] = field(default_factory=lambda: [0])
    pairs: list[tuple[int, int, int]] = field(default_factory=list)
    partitions: list[pb.NodePartition] = field(default_factory=list)
    own_hists: dict[int, tuple[Any, Any]] = field(default_factory=dict)
    n_leaves: int = 1
    level: int = 0


class TreeGrower:
    """What stays fixed while the label holder grows its trees: the channel, the scheme, its
    own binned features, the passives' shapes, and the per-party gain and split counts."""

    def __init__(
        self,
        channel: Channel,
        X: np.ndarray,
        work: HEWork,
        cfg: SBTConfig,
        passives: list[str],
        backend: Backend,
        categories: list[int] | None = None,
    ):
        self.ch, self.X, self.cfg, self.passives = channel, X, cfg, passives
        self.work, self.scheme = work, work.scheme
        self._zeros_before = len(self.scheme.zero_spans)  # made by this scheme for an earlier run
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
        self.gain = {p: 0.0 for p in [channel.me, *passives]}
        self.splits = {p: 0 for p in [channel.me, *passives]}

    # -- messages 1-2 --------------------------------------------------------------------------
    def setup(self, n: int) -> None:
        """Send the setup (with the public context) and check every passive's shape; the first
        tree's [[0]]s start meanwhile (the passives load the key and bin their features)."""
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
        self._prepare(0, n)
        for p in self.passives:
            self._check_info(p, self.ch.recv(p, Topics.INFO, pb.SBTPassiveInfo), n)

    def _check_info(self, p: str, info: pb.SBTPassiveInfo, n: int) -> None:
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
        """Grow tree ``t`` (of margin column ``output``); returns it and each row's leaf."""
        st = self._start_tree(t, output, g, h)
        while st.expand:
            self.split_level(st)
        self._done_level = st.level  # close_tree sends the closing plan once the tree is saved
        return st.tree, self._set_leaves(st)

    def _start_tree(self, t: int, output: int, g: np.ndarray, h: np.ndarray) -> _Growth:
        """Message 3: the tree's row sample and its [[g, h]] (shifted into the headroom)."""
        n = len(g)
        sample = self.cfg.row_sample(t, n)
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
        self._send_gradients(t, msg, np.ldexp(g_enc, -shift), np.ldexp(h_enc, -shift))
        self._prepare(t + 1, n)
        return _Growth(
            t=t,
            tree=Tree(output, [Node(0, 0, n_rows=n)]),
            g=g,
            h=h,
            g_x=self.backend.asarray(g),
            h_x=self.backend.asarray(h),
            in_sample=in_sample,
            unshift=2.0**shift,
            node_rows={0: np.arange(n)},
            grown={0: np.arange(n) if sample is None else sample},
            pas_hists={p: {} for p in self.passives},
        )

    def zero_spans(self) -> list[ZeroSpan]:
        """When this run's [[0]]s were made (from the setup on)."""
        return self.scheme.zero_spans[self._zeros_before :]

    def _prepare(self, t: int, n: int) -> None:
        """While the passives work (on the setup, or on the tree before), start the [[0]]s of tree
        ``t``'s [[g, h]] chunks (its row sample is known already: drawn from the seed and the
        tree alone); only where it pays (:attr:`vfl.executor.he.HEWork.ahead`)."""
        if t >= self.cfg.n_trees or not self.work.ahead:
            return
        sample = self.cfg.row_sample(t, n)
        self.scheme.prepare_zeros(chunk_lengths(n if sample is None else len(sample), self.chunk_rows))

    def _send_gradients(self, t: int, first: pb.SBTGradients, g: np.ndarray, h: np.ndarray) -> None:
        """Encrypt and send [[g, h]] chunk by chunk (``gh_chunk_rows`` rows each), so the
        passives sum the first chunk's buckets while this party encrypts the next."""
        n_chunks = len(chunk_lengths(len(g), self.chunk_rows))
        chunks = self.work.encrypt_gh_chunks(g, h, self.chunk_rows)
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

    # -- one level (messages 4-7) --------------------------------------------------------------
    def split_level(self, st: _Growth) -> None:
        """Plan the level, find each node's best split, apply the winners, grow the children."""
        build, derive = plan_level(st.expand, st.pairs, st.grown)
        plan = pb.SBTLevelPlan(tree=st.t, level=st.level, partitions=st.partitions, build=build)
        self.ch.broadcast(Topics.plan(st.t, st.level), plan, self.passives)
        cands = self.find_splits(st, build, derive)
        winners = self._winners(st, cands)
        bits = self._split(st, winners, cands)
        st.expand, st.pairs, st.partitions = [], [], []
        for nd in winners:
            self._add_children(st, nd, bits[nd])
        st.level += 1

    def find_splits(
        self, st: _Growth, build: list[int], derive: list[tuple[int, int, int]]
    ) -> dict[int, _Candidate | None]:
        """Each node's best split: own histograms in plaintext, then each passive's decrypted."""
        xp = self.xp
        own_built = {
            nd: histogram(xp, self.bins, st.g_x, st.h_x, self.backend.asarray(st.grown[nd]), self.n_bins)
            for nd in build
        }
        st.own_hists = complete_level(own_built, derive, st.own_hists)
        cands = {nd: self._own_candidate(*st.own_hists[nd]) for nd in st.expand}
        for p in self.passives:
            built = self._recv_histograms(p, st, build)
            st.pas_hists[p] = complete_level(built, derive, st.pas_hists[p])
            self._improve(p, st.pas_hists[p], cands)
        return cands

    def _own_candidate(self, G: Any, H: Any) -> _Candidate | None:
        bs = best_split(self.xp, G, H, self.rule)
        return None if bs is None else _Candidate(bs.gain, self.ch.me, bs)

    def _recv_histograms(self, p: str, st: _Growth, build: list[int]) -> dict[int, tuple[Any, Any]]:
        """Message 5: ``p``'s histograms of the nodes it was asked to build, decrypted."""
        t, level = st.t, st.level
        msg = self.ch.recv(p, Topics.histograms(t, level), pb.SBTHistograms)
        got = [nh.node for nh in msg.nodes]
        if msg.tree != t or msg.level != level or got != build:
            raise ProtocolError(
                f"{p} sent histograms for tree {msg.tree} level {msg.level} nodes "
                f"{got}; expected tree {t} level {level} nodes {build}"
            )
        return {nh.node: self._decrypt_histogram(p, nh, st.unshift) for nh in msg.nodes}

    def _decrypt_histogram(self, p: str, nh: pb.NodeHistogram, unshift: float) -> tuple[Any, Any]:
        with self.clock.crypto():
            hist = self.scheme.deserialize(nh.hist, self.ch.job_id)
            if not isinstance(hist, EncryptedHistogram):
                raise ProtocolError(f"{p} sent a vector where a histogram was expected")
            G, H = self.scheme.decrypt_histogram(hist)
        G, H = G * unshift, H * unshift
        if G.shape != (self.shapes[p], self.n_bins) or H.shape != G.shape:
            raise ProtocolError(
                f"{p} sent a {G.shape} histogram for node {nh.node}, "
                f"expected ({self.shapes[p]}, {self.n_bins})"
            )
        return G, H

    def _improve(
        self, p: str, hists: dict[int, tuple[Any, Any]], cands: dict[int, _Candidate | None]
    ) -> None:
        """Replace a node's best by ``p``'s where it gains more (beyond the tie tolerance)."""
        for nd in cands:
            bs = best_split(self.np_xp, *hists[nd], self.rule)
            best = cands[nd]
            if bs is not None and (best is None or bs.gain > best.gain + tie_tolerance(best.gain)):
                cands[nd] = _Candidate(bs.gain, p, bs)

    def _winners(self, st: _Growth, cands: dict[int, _Candidate | None]) -> list[int]:
        """The nodes that split: every one with a candidate, the best first up to max_leaves."""
        chosen = sorted(((c.gain, nd) for nd, c in cands.items() if c is not None), reverse=True)
        if self.cfg.max_leaves is not None:
            chosen = chosen[: max(self.cfg.max_leaves - st.n_leaves, 0)]
        winners = sorted(nd for _, nd in chosen)
        st.n_leaves += len(winners)
        return winners

    def _split(
        self, st: _Growth, winners: list[int], cands: dict[int, _Candidate | None]
    ) -> dict[int, np.ndarray]:
        """Apply the level's winning splits: own ones locally, passive ones by asking the owner
        (messages 6-7). Returns each winner's left bitmap over its rows."""
        bits: dict[int, np.ndarray] = {}
        asks: dict[str, list[pb.SplitDecision]] = {p: [] for p in self.passives}
        for nd in winners:
            c = cands[nd]
            assert c is not None
            ask = self._record_split(st, nd, c, bits)
            if ask is not None:
                asks[c.owner].append(ask)
        t, level = st.t, st.level
        for p in self.passives:
            self.ch.send(
                p, Topics.decisions(t, level), pb.SBTSplitDecisions(tree=t, level=level, decisions=asks[p])
            )
        for p in self.passives:
            self._recv_outcomes(p, st, asks[p], bits)
        return bits

    def _record_split(
        self, st: _Growth, nd: int, c: _Candidate, bits: dict[int, np.ndarray]
    ) -> pb.SplitDecision | None:
        """Write the winner into the node; an own split is applied now, a passive's is the
        decision to send its owner."""
        node, bs = st.tree.nodes[nd], c.split
        node.owner, node.gain = c.owner, c.gain
        self.gain[c.owner] += c.gain
        self.splits[c.owner] += 1
        if c.owner != self.ch.me:
            cand = bs.feature * (self.n_bins - 1) + bs.bin
            return pb.SplitDecision(node=nd, candidate=cand, default_left=bs.default_left)
        node.feature, node.default_left = bs.feature, bs.default_left
        node.threshold = self.mapper.threshold(bs.feature, bs.bin)
        split = PassiveSplit(bs.feature, node.threshold, bs.default_left)
        bits[nd] = split.go_left(self.X[st.node_rows[nd], bs.feature])
        return None

    def _recv_outcomes(
        self, p: str, st: _Growth, asked: list[pb.SplitDecision], bits: dict[int, np.ndarray]
    ) -> None:
        """Message 7: ``p``'s split ids and partitions of the nodes it was asked to split."""
        out = self.ch.recv(p, Topics.outcomes(st.t, st.level), pb.SBTSplitOutcomes)
        want = [d.node for d in asked]
        if out.tree != st.t or out.level != st.level or [o.node for o in out.outcomes] != want:
            raise ProtocolError(
                f"{p} answered splits of nodes {[o.node for o in out.outcomes]}"
                f" at tree {out.tree} level {out.level}; asked for {want}"
            )
        for o in out.outcomes:
            rows = st.node_rows[o.node]
            if o.n_rows != len(rows):
                raise ProtocolError(
                    f"{p} partitioned {o.n_rows} rows of node {o.node}, which has {len(rows)}"
                )
            bits[o.node] = unpack_bits(o.left_bits, len(rows), f"{p}'s partition of {o.node}")
            st.tree.nodes[o.node].split_id = int(o.split_id)

    def _add_children(self, st: _Growth, nd: int, left_bits: np.ndarray) -> None:
        """Split node ``nd``'s rows into two new nodes; queue the partition for the next plan
        and the children that may still split."""
        nodes = st.tree.nodes
        rows = st.node_rows[nd]
        left, right = len(nodes), len(nodes) + 1
        nodes[nd].left, nodes[nd].right = left, right
        st.node_rows[left], st.node_rows[right] = rows[left_bits], rows[~left_bits]
        for c in (left, right):
            st.grown[c] = st.node_rows[c][st.in_sample[st.node_rows[c]]]
            nodes.append(Node(c, st.level + 1, n_rows=len(st.node_rows[c])))
            if self._expandable(st.level + 1, st.grown[c], st.h):
                st.expand.append(c)
        st.partitions.append(
            pb.NodePartition(
                node=nd, left=left, right=right, n_rows=len(rows), left_bits=pack_bits(left_bits)
            )
        )
        st.pairs.append((nd, left, right))

    def _expandable(self, depth: int, rows: np.ndarray, h: np.ndarray) -> bool:
        return (
            depth < self.cfg.max_depth
            and len(rows) >= 2
            and float(h[rows].sum()) >= 2 * self.cfg.min_child_weight
        )

    def _set_leaves(self, st: _Growth) -> np.ndarray:
        """Give every leaf its value from its sampled rows; returns each row's leaf."""
        cfg = self.cfg
        leaf_of_row = np.zeros(len(st.g), dtype=np.int64)
        for node in st.tree.nodes:
            if node.is_leaf:
                rows = st.grown[node.id]
                node.value = float(
                    leaf_weight(st.g[rows].sum(), st.h[rows].sum(), cfg.reg_lambda, cfg.learning_rate)
                )
                leaf_of_row[st.node_rows[node.id]] = node.id
        return leaf_of_row
