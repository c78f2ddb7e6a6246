"""A passive party (features only, public HE context only) of SecureBoost.

It bins its features once, turns the active party's encrypted (g, h) into encrypted histograms
of each requested node (building the smaller child and deriving its sibling by subtraction),
and, when one of its candidates wins, keeps (feature, threshold, default) under an opaque id and
returns only the row partition. Thresholds and feature values never leave it.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vfl.compute import Backend, BinMapper, fit_bins, get_backend, to_numpy
from vfl.core.errors import ProtocolError
from vfl.core.progress import Progress
from vfl.crypto.he.base import CipherVector, EncryptedHistogram, HEScheme
from vfl.crypto.he.wire import bins_carried
from vfl.executor.base import Executor
from vfl.executor.he import HEWork
from vfl.protocols.secureboost.model import PassiveSplit
from vfl.protocols.secureboost.resume import (
    Checkpointer,
    agree_start_passive,
    run_key,
    splits_from_state,
    splits_to_state,
)
from vfl.protocols.secureboost.stages import (
    Topics,
    TreeClock,
    apply_partitions,
    check_gh_chunk_rows,
    pack_bits,
    unpack_bits,
)
from vfl.transport.channel import Channel
from vfl.wire.arrays import to_ndarray
from vfl.wire.v1 import he_pb2
from vfl.wire.v1 import secureboost_pb2 as pb

__all__ = ["PassiveResult", "serve_predict", "train_passive"]

OpenScheme = Callable[[he_pb2.PublicContext, str], HEScheme]


@dataclass
class PassiveResult:
    splits: dict[int, PassiveSplit]
    mapper: BinMapper
    stats: dict[str, Any] = field(default_factory=dict)


def train_passive(
    channel: Channel,
    X: np.ndarray,
    *,
    active: str,
    open_scheme: OpenScheme,
    backend: Backend | None = None,
    progress: Progress | None = None,
    checkpoint: Checkpointer | None = None,
    categories: list[int] | None = None,
    executor: Executor | None = None,
) -> PassiveResult:
    """Serve one training job for ``active``; returns this party's private split table.
    With ``checkpoint``: save the split table after every tree and continue from the tree the
    active announces (:mod:`vfl.protocols.secureboost.resume`). ``categories[f]`` > 0: feature
    f holds that many category codes (one bin each; the map never leaves this party).
    ``executor``: where the bucket sums run (:mod:`vfl.executor.he`; none: this process)."""
    backend = backend or get_backend("cpu")
    X = np.asarray(X, dtype=np.float64)
    clock = TreeClock(channel)
    setup, scheme = _join(channel, X, active, open_scheme, clock)
    run = _PassiveRun(
        channel, X, active, setup, HEWork(scheme, executor, channel.job_id), clock, backend, categories
    )
    done = run.resume(checkpoint)
    if progress:
        progress("tree", done, setup.n_trees)  # the stage starts now (after setup and resume)
    for t in range(done, setup.n_trees):
        clock.start()
        run.grow_tree(t)
        clock.stop(t)
        if checkpoint is not None:
            checkpoint.save(t + 1, run.state(t + 1))
        if progress:
            progress("tree", t + 1, setup.n_trees)
    return PassiveResult(
        run.splits,
        run.mapper,
        {
            "trees": clock.trees,
            "he": setup.he_context.scheme,
            "resumed_from_tree": done,
            "crypto_busy_seconds": clock.busy_seconds(),
        },
    )


def _join(
    channel: Channel, X: np.ndarray, active: str, open_scheme: OpenScheme, clock: TreeClock
) -> tuple[pb.SBTSetup, HEScheme]:
    """Messages 1-2: take the setup and its public context, announce this party's shape."""
    n, n_feat = X.shape
    setup = channel.recv(active, Topics.SETUP, pb.SBTSetup)
    with clock.crypto():
        scheme = open_scheme(setup.he_context, channel.job_id)
    if scheme.has_secret_key:
        raise ProtocolError("the public context carried a secret key", "stop and re-key the job")
    n_bins = setup.max_bin + 1
    channel.send(active, Topics.INFO, pb.SBTPassiveInfo(n_rows=n, n_features=n_feat, n_bins=n_bins))
    if setup.n_rows != n:
        raise ProtocolError(
            f"{active} trains on {setup.n_rows} rows, {channel.me} holds {n}",
            "align all parties' rows with `vfl psi` before training",
        )
    return setup, scheme


@dataclass
class _TreeRows:
    """Where one tree stands at this party: its [[g, h]], the row sample, each row's index
    into [[g, h]] and the rows of every node so far."""

    grads: _Gradients
    in_sample: np.ndarray
    position: np.ndarray
    node_rows: dict[int, np.ndarray]

    def histogram(self, nd: int, level: int) -> EncryptedHistogram:
        """Node ``nd``'s encrypted histogram; the root's was summed as the chunks arrived."""
        if level == 0 and self.grads.root is not None:
            return self.grads.root
        rows = self.node_rows[nd]
        return self.grads.bucket_sums(self.position[rows[self.in_sample[rows]]])


class _PassiveRun:
    """What stays fixed over one passive's training run: the agreed setup, the scheme, its
    binned features and the run key; ``splits`` is the split table it grows."""

    def __init__(
        self,
        channel: Channel,
        X: np.ndarray,
        active: str,
        setup: pb.SBTSetup,
        work: HEWork,
        clock: TreeClock,
        backend: Backend,
        categories: list[int] | None,
    ) -> None:
        self.ch, self.X, self.active, self.setup, self.work, self.clock = (
            channel,
            X,
            active,
            setup,
            work,
            clock,
        )
        n = X.shape[0]
        self.n_bins = setup.max_bin + 1
        self.mapper = fit_bins(backend.xp, backend.asarray(X), int(setup.max_bin), categories)
        self.bins = np.ascontiguousarray(
            to_numpy(self.mapper.transform(backend.xp, backend.asarray(X))), dtype=np.int64
        )
        settings = {k: getattr(setup, k) for k in ("n_rows", "n_trees", "max_depth", "max_bin")}
        self.key = run_key("sbt-passive", {**settings, "active": active, "he": setup.he_context.scheme}, X)
        self.chunk_rows = check_gh_chunk_rows(int(setup.gh_chunk_rows), n, active)
        self.splits: dict[int, PassiveSplit] = {}

    def resume(self, checkpoint: Checkpointer | None) -> int:
        """Agree the restart tree with the active; returns it (0: from scratch)."""
        done, state = agree_start_passive(self.ch, self.active, checkpoint, self.key)
        self.splits = splits_from_state(state["splits"]) if state else {}
        return done

    def state(self, step: int) -> dict[str, Any]:
        return {"run_key": self.key, "step": step, "splits": splits_to_state(self.splits)}

    def grow_tree(self, t: int) -> None:
        """Serve tree ``t``: take its [[g, h]] (message 3), then serve every level the active
        plans (messages 4-7) until it closes the tree."""
        rows = self.receive_gradients(t)
        for level in range(self.setup.max_depth + 1):
            plan = self.ch.recv(self.active, Topics.plan(t, level), pb.SBTLevelPlan)
            if plan.tree != t or plan.level != level:
                raise ProtocolError(
                    f"plan for tree {plan.tree} level {plan.level} arrived as tree {t} level {level}"
                )
            if plan.done:
                return
            self.serve_level(t, level, plan, rows)
        raise ProtocolError(f"{self.active} never ended tree {t}")

    def receive_gradients(self, t: int) -> _TreeRows:
        n = self.X.shape[0]
        grads = _Gradients(self.ch, self.work, self.clock, self.active, t, self.chunk_rows, self.n_bins)
        in_sample, position = grads.receive(n, self.bins)
        return _TreeRows(grads, in_sample, position, {0: np.arange(n)})

    def serve_level(self, t: int, level: int, plan: pb.SBTLevelPlan, rows: _TreeRows) -> None:
        """Apply the last level's partitions, answer the histograms, apply the won splits."""
        pairs = apply_partitions(rows.node_rows, plan.partitions)
        level_nodes = {0} if level == 0 else {c for _, lt, rt in pairs for c in (lt, rt)}
        build = list(plan.build)
        if any(nd not in level_nodes for nd in build):
            raise ProtocolError(f"{self.active} asked for histograms of unknown nodes {build}")
        self.answer_histograms(t, level, build, rows)
        dec = self.ch.recv(self.active, Topics.decisions(t, level), pb.SBTSplitDecisions)
        outcomes = [self.apply_split(d, level_nodes, rows.node_rows) for d in dec.decisions]
        self.ch.send(
            self.active,
            Topics.outcomes(t, level),
            pb.SBTSplitOutcomes(tree=t, level=level, outcomes=outcomes),
        )

    def answer_histograms(self, t: int, level: int, build: list[int], rows: _TreeRows) -> None:
        """Message 5: the encrypted histogram of every node the plan asks to build."""
        job = self.ch.job_id
        with self.clock.crypto():
            out = [
                pb.NodeHistogram(node=nd, hist=self.work.scheme.serialize(rows.histogram(nd, level), job))
                for nd in build
            ]
        self.clock.count("histograms", len(out))
        self.clock.count("histogram_bins", sum(bins_carried(nh.hist) for nh in out))
        self.ch.send(
            self.active, Topics.histograms(t, level), pb.SBTHistograms(tree=t, level=level, nodes=out)
        )

    def apply_split(
        self, d: pb.SplitDecision, level_nodes: set[int], node_rows: dict[int, np.ndarray]
    ) -> pb.SplitOutcome:
        """Keep a won split under a fresh opaque id; returns the id and the node's partition."""
        n_feat = self.X.shape[1]
        if d.node not in level_nodes or d.candidate >= n_feat * (self.n_bins - 1):
            raise ProtocolError(
                f"{self.active} chose candidate {d.candidate} of node {d.node},"
                " which this party never offered"
            )
        f, j = divmod(int(d.candidate), self.n_bins - 1)
        split = PassiveSplit(f, self.mapper.threshold(f, j), bool(d.default_left))
        sid = _new_id(self.splits)
        self.splits[sid] = split
        rows = node_rows[d.node]
        return pb.SplitOutcome(
            node=d.node, split_id=sid, n_rows=len(rows), left_bits=pack_bits(split.go_left(self.X[rows, f]))
        )


def serve_predict(channel: Channel, X: np.ndarray, splits: dict[int, PassiveSplit], *, active: str) -> int:
    """Answer one inference request with the routing bits of the asked splits; returns rows."""
    X = np.asarray(X, dtype=np.float64)
    req = channel.recv(active, Topics.PREDICT_REQUEST, pb.SBTPredictRequest)
    n = X.shape[0]
    if req.n_rows != n:
        raise ProtocolError(
            f"{active} predicts {req.n_rows} rows, {channel.me} holds {n}",
            "align the prediction rows of all parties first",
        )
    unknown = [s for s in req.split_ids if s not in splits]
    if unknown:
        raise ProtocolError(
            f"{active} asked for {len(unknown)} splits this party does not hold",
            "use this party's model file from the same training job",
        )
    bits = np.zeros((len(req.split_ids), (n + 7) // 8), dtype=np.uint8)
    for i, sid in enumerate(req.split_ids):
        s = splits[sid]
        bits[i] = np.packbits(s.go_left(X[:, s.feature]))
    channel.send(
        active,
        Topics.PREDICT_ROUTING,
        pb.SBTRouting(n_rows=n, split_ids=req.split_ids, left_bits=to_ndarray(bits), nonce=req.nonce),
    )
    return n


class _Gradients:
    """One tree's [[g, h]] as it arrives in chunks. The root's histogram (every tree's first
    build) is summed chunk by chunk as each arrives, while the label holder encrypts the next;
    a later node's histogram is the sum of its bucket sums over the chunks holding its rows."""

    def __init__(
        self,
        channel: Channel,
        work: HEWork,
        clock: TreeClock,
        active: str,
        tree: int,
        chunk_rows: int,
        n_bins: int,
    ) -> None:
        self.ch, self.scheme, self.clock, self.active, self.tree = channel, work.scheme, clock, active, tree
        self.chunk_rows, self.n_bins = chunk_rows, n_bins
        self.starts: list[int] = []
        self.sums = work.chunk_sums(n_bins)
        self.root: EncryptedHistogram | None = None
        self.bins = np.zeros((0, 0), dtype=np.int64)

    def receive(self, n: int, bins: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Take every chunk of the tree; returns (in-sample mask, row -> index into [[g, h]])."""
        t, active = self.tree, self.active
        msg = self.ch.recv(active, Topics.gradients(t), pb.SBTGradients)
        in_sample, self.bins, position = _row_sample(msg, n, bins, active)
        m = len(self.bins)
        step = self.chunk_rows or m
        self.starts = list(range(0, m, step))
        for c, a in enumerate(self.starts):
            if c:
                msg = self.ch.recv(active, Topics.gradients(t, c), pb.SBTGradients)
            if msg.tree != t or msg.chunk != c or msg.n_chunks != len(self.starts):
                raise ProtocolError(
                    f"{active} sent [[g, h]] chunk {msg.chunk} of {msg.n_chunks} of tree {msg.tree} as "
                    f"chunk {c} of {len(self.starts)} of tree {t}"
                )
            with self.clock.crypto():
                enc = self.scheme.deserialize(msg.gh, self.ch.job_id)
                if not isinstance(enc, CipherVector):
                    raise ProtocolError(f"{active} sent a histogram where [[g, h]] was expected")
                if len(enc) != min(step, m - a):
                    raise ProtocolError(
                        f"{active} sent {len(enc)} encrypted gradients for {min(step, m - a)} rows"
                    )
                self.sums.add(enc, self.bins[a : a + len(enc)])
            self.clock.count("bucket_terms", len(enc) * self.bins.shape[1])
        with self.clock.crypto():
            self.root = self.sums.root()
        return in_sample, position

    def bucket_sums(self, rows: np.ndarray) -> EncryptedHistogram:
        """The histogram of the sampled rows at indices ``rows`` (ascending) of [[g, h]]."""
        cuts = np.searchsorted(rows, [*self.starts[1:], len(self.bins)])
        parts, lo = [], 0
        for c, (a, hi) in enumerate(zip(self.starts, cuts, strict=True)):
            if hi > lo:
                parts.append((c, rows[lo:hi] - a))
            lo = hi
        hist = self.sums.sums(parts)
        self.clock.count("bucket_terms", len(rows) * self.bins.shape[1])
        if hist is None:
            raise ProtocolError(f"{self.active} asked for the histogram of a node with no sampled rows")
        return hist


def _row_sample(
    msg: pb.SBTGradients, n: int, bins: np.ndarray, active: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The tree's row sample: (in-sample mask over all n rows, the sampled rows' bins, each
    row's index into the encrypted vector). Without ``sample_bits`` every row is in."""
    if not msg.HasField("sample_bits"):
        return np.ones(n, dtype=bool), bins, np.arange(n)
    in_sample = unpack_bits(msg.sample_bits, n, f"{active}'s row sample of tree {msg.tree}")
    k = int(in_sample.sum())
    if k != msg.n_sampled or k < 2:
        raise ProtocolError(
            f"{active}'s row sample of tree {msg.tree} has {k} rows but "
            f"announces {msg.n_sampled}; a sample needs at least 2"
        )
    return in_sample, np.ascontiguousarray(bins[in_sample]), np.cumsum(in_sample) - 1


def _new_id(taken: dict[int, PassiveSplit]) -> int:
    while True:
        sid = secrets.randbits(63) + 1
        if sid not in taken:
            return sid
