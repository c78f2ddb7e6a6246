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
from vfl.crypto.he.base import CipherVector, HEScheme
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
) -> PassiveResult:
    """Serve one training job for ``active``; returns this party's private split table.
    With ``checkpoint``: save the split table after every tree and continue from the tree the
    active announces (:mod:`vfl.protocols.secureboost.resume`). ``categories[f]`` > 0: feature
    f holds that many category codes (one bin each; the map never leaves this party)."""
    backend = backend or get_backend("cpu")
    X = np.asarray(X, dtype=np.float64)
    n, n_feat = X.shape
    clock = TreeClock(channel)
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
    mapper = fit_bins(backend.xp, backend.asarray(X), int(setup.max_bin), categories)
    bins = np.ascontiguousarray(to_numpy(mapper.transform(backend.xp, backend.asarray(X))), dtype=np.int64)
    settings = {k: getattr(setup, k) for k in ("n_rows", "n_trees", "max_depth", "max_bin")}
    key = run_key("sbt-passive", {**settings, "active": active, "he": setup.he_context.scheme}, X)
    done, state = agree_start_passive(channel, active, checkpoint, key)
    splits: dict[int, PassiveSplit] = splits_from_state(state["splits"]) if state else {}
    job = channel.job_id
    if progress:
        progress("tree", done, setup.n_trees)  # the stage starts now (after setup and resume)
    for t in range(done, setup.n_trees):
        clock.start()
        msg = channel.recv(active, Topics.gradients(t), pb.SBTGradients)
        if msg.tree != t:
            raise ProtocolError(f"{active} sent gradients of tree {msg.tree} on tree {t}'s topic")
        with clock.crypto():
            enc = scheme.deserialize(msg.gh, job)
        if not isinstance(enc, CipherVector):
            raise ProtocolError(f"{active} sent a histogram where [[g, h]] was expected")
        in_sample, tree_bins, position = _row_sample(msg, n, bins, active)
        if len(enc) != len(tree_bins):
            raise ProtocolError(f"{active} sent {len(enc)} encrypted gradients for {len(tree_bins)} rows")
        node_rows: dict[int, np.ndarray] = {0: np.arange(n)}
        for level in range(setup.max_depth + 1):
            plan = channel.recv(active, Topics.plan(t, level), pb.SBTLevelPlan)
            if plan.tree != t or plan.level != level:
                raise ProtocolError(
                    f"plan for tree {plan.tree} level {plan.level} arrived as tree {t} level {level}"
                )
            if plan.done:
                break
            pairs = apply_partitions(node_rows, plan.partitions)
            level_nodes = {0} if level == 0 else {c for _, lt, rt in pairs for c in (lt, rt)}
            build = list(plan.build)
            if any(nd not in level_nodes for nd in build):
                raise ProtocolError(f"{active} asked for histograms of unknown nodes {build}")
            with clock.crypto():
                out = [
                    pb.NodeHistogram(
                        node=nd,
                        hist=scheme.serialize(
                            scheme.bucket_sums(
                                enc, tree_bins, position[node_rows[nd][in_sample[node_rows[nd]]]], n_bins
                            ),
                            job,
                        ),
                    )
                    for nd in build
                ]
            channel.send(
                active, Topics.histograms(t, level), pb.SBTHistograms(tree=t, level=level, nodes=out)
            )
            dec = channel.recv(active, Topics.decisions(t, level), pb.SBTSplitDecisions)
            outcomes = []
            for d in dec.decisions:
                if d.node not in level_nodes or d.candidate >= n_feat * (n_bins - 1):
                    raise ProtocolError(
                        f"{active} chose candidate {d.candidate} of node {d.node},"
                        " which this party never offered"
                    )
                f, j = divmod(int(d.candidate), n_bins - 1)
                split = PassiveSplit(f, mapper.threshold(f, j), bool(d.default_left))
                sid = _new_id(splits)
                splits[sid] = split
                rows = node_rows[d.node]
                outcomes.append(
                    pb.SplitOutcome(
                        node=d.node,
                        split_id=sid,
                        n_rows=len(rows),
                        left_bits=pack_bits(split.go_left(X[rows, f])),
                    )
                )
            channel.send(
                active, Topics.outcomes(t, level), pb.SBTSplitOutcomes(tree=t, level=level, outcomes=outcomes)
            )
        else:
            raise ProtocolError(f"{active} never ended tree {t}")
        clock.stop(t)
        if checkpoint is not None:
            checkpoint.save(t + 1, {"run_key": key, "step": t + 1, "splits": splits_to_state(splits)})
        if progress:
            progress("tree", t + 1, setup.n_trees)
    return PassiveResult(
        splits, mapper, {"trees": clock.trees, "he": setup.he_context.scheme, "resumed_from_tree": done}
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
