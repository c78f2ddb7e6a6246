"""A passive party (features only, public HE context only) of the feature analysis.

It bins its own columns (quantile bins merged to at least ``min_count`` rows each), turns the
label holder's [[(y, 1)]] into encrypted per-bin (events, rows) sums, and takes part in the
correlation step with its standardised columns: as encryptor (its columns under the label
holder's key, to another passive) or as evaluator (encrypted inner products, to the label
holder). Its values, bin edges and columns never leave it; what does is in
protocols/specs/analysis.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vfl.compute.woe import FeatureBins, fit_feature_bins, standardise
from vfl.core.errors import ProtocolError
from vfl.crypto.he.base import CipherVector, HEScheme
from vfl.protocols.analysis.stages import (
    Topics,
    check_share,
    local_stats,
    stats_message,
)
from vfl.transport.channel import Channel
from vfl.wire.v1 import analysis_pb2 as pb
from vfl.wire.v1 import he_pb2

__all__ = ["PassiveAnalysis", "analyse_passive", "bin_features", "encrypt_columns", "evaluate_pair"]

OpenScheme = Callable[[he_pb2.PublicContext, str], HEScheme]


@dataclass
class PassiveAnalysis:
    """What a passive keeps: its own bins and statistics (the WOE values are the label holder's)."""

    bins: list[FeatureBins]
    stats: list[dict[str, Any]]
    share: str
    pairs: list[tuple[str, str]] = field(default_factory=list)


def bin_features(X: np.ndarray, max_bin: int, min_count: int) -> tuple[list[FeatureBins], np.ndarray]:
    """Every column's bins and the (n, F) bin index matrix (the same for every HE backend)."""
    fbs = [fit_feature_bins(X[:, f], max_bin, min_count) for f in range(X.shape[1])]
    idx = np.stack([fb.assign(X[:, f]) for f, fb in enumerate(fbs)], axis=1) if fbs else np.empty((len(X), 0))
    return fbs, np.ascontiguousarray(idx, dtype=np.int64)


def encrypt_columns(scheme: HEScheme, Z: np.ndarray, job_id: str) -> pb.CorrelationColumns:
    """The encryptor's standardised columns, one ciphertext vector each, under the key holder's key."""
    return pb.CorrelationColumns(
        columns=[scheme.serialize(scheme.encrypt(Z[:, j]), job_id) for j in range(Z.shape[1])]
    )


def evaluate_pair(
    scheme: HEScheme, msg: pb.CorrelationColumns, Z: np.ndarray, *, encryptor: str, expected: int, job_id: str
) -> pb.CorrelationProducts:
    """[[Z^T z]] for each of the encryptor's encrypted columns z: what goes to the key holder."""
    if len(msg.columns) != expected:
        raise ProtocolError(
            f"{encryptor} sent {len(msg.columns)} encrypted columns, the plan says {expected}"
        )
    out = pb.CorrelationProducts(encryptor=encryptor)
    for c in msg.columns:
        enc = scheme.deserialize(c, job_id)
        if not isinstance(enc, CipherVector) or len(enc) != Z.shape[0]:
            raise ProtocolError(f"{encryptor} sent an encrypted column that is not {Z.shape[0]} values")
        out.products.append(scheme.serialize(scheme.dot_plain(enc, Z), job_id))
    return out


def correlation_step(channel: Channel, scheme: HEScheme, Z: np.ndarray, active: str) -> list[tuple[str, str]]:
    """Any non-key-holder's part of the correlation plan: encrypt first (sends never block), then
    evaluate. Returns the pairs this party took part in."""
    plan = channel.recv(active, Topics.PLAN, pb.CorrelationPlan)
    me, job = channel.me, channel.job_id
    mine = [p for p in plan.pairs if me in (p.encryptor, p.evaluator)]
    for p in mine:
        own = p.encryptor_columns if p.encryptor == me else p.evaluator_columns
        other = p.evaluator if p.encryptor == me else p.encryptor
        if own != Z.shape[1] or other not in channel.peers or p.encryptor == p.evaluator:
            raise ProtocolError(f"{active}'s correlation plan does not match this party: {p}")
    encrypted: pb.CorrelationColumns | None = None
    for p in mine:
        if p.encryptor == me:
            if p.evaluator == active:
                raise ProtocolError("the plan asks for this party's columns to reach the key holder")
            encrypted = encrypted or encrypt_columns(scheme, Z, job)
            channel.send(p.evaluator, Topics.columns(me), encrypted)
    for p in mine:
        if p.evaluator == me:
            cols = channel.recv(p.encryptor, Topics.columns(p.encryptor), pb.CorrelationColumns)
            prod = evaluate_pair(
                scheme, cols, Z, encryptor=p.encryptor, expected=p.encryptor_columns, job_id=job
            )
            channel.send(active, Topics.products(p.encryptor, me), prod)
    return [(p.encryptor, p.evaluator) for p in mine]


def analyse_passive(
    channel: Channel,
    X: np.ndarray,
    names: list[str],
    *,
    active: str,
    open_scheme: OpenScheme,
    share: str = "counts",
) -> PassiveAnalysis:
    """Serve one analysis job for ``active``; returns this party's private bins and statistics."""
    check_share(share)
    X = np.asarray(X, dtype=np.float64)
    n = X.shape[0]
    setup = channel.recv(active, Topics.SETUP, pb.AnalysisSetup)
    scheme = open_scheme(setup.he_context, channel.job_id)
    if scheme.has_secret_key:
        raise ProtocolError("the public context carried a secret key", "stop and re-key the job")
    channel.send(active, Topics.INFO, stats_message(X, names, share))
    if setup.n_rows != n:
        raise ProtocolError(
            f"{active} analyses {setup.n_rows} rows, {channel.me} holds {n}",
            "align all parties' rows with `vfl psi` first",
        )
    if not 2 <= setup.max_bin <= 256 or setup.min_count < 1:
        raise ProtocolError(f"{active} asked for max_bin={setup.max_bin}, min_count={setup.min_count}")
    fbs, idx = bin_features(X, int(setup.max_bin), int(setup.min_count))
    labels = channel.recv(active, Topics.LABELS, pb.AnalysisLabels)
    enc = scheme.deserialize(labels.y, channel.job_id)
    if not isinstance(enc, CipherVector) or len(enc) != n:
        raise ProtocolError(f"{active} did not send {n} encrypted labels, one per aligned row")
    hist = scheme.bucket_sums(enc, idx, np.arange(n), int(setup.max_bin) + 1)
    channel.send(
        active,
        Topics.BINS,
        pb.AnalysisBinSums(sums=scheme.serialize(hist, channel.job_id), n_bins=[fb.n_bins for fb in fbs]),
    )
    out = PassiveAnalysis(fbs, local_stats(X, names), share)
    if setup.correlation:
        out.pairs = correlation_step(channel, scheme, standardise(X)[0], active)
    return out
