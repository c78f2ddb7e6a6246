"""The active party (label holder, HE key holder) of the feature analysis.

It encrypts (y, 1) of every aligned row once, sends it to every passive, decrypts the per-bin
(events, rows) sums each passive returns and computes WOE and IV with the same function as the
plaintext check (:func:`vfl.compute.woe.woe_iv`); its own features it bins and counts in the clear.
For correlations it plans the pairs, encrypts its own standardised columns for its pairs and
decrypts the inner products evaluators return: Pearson's r of each cross-party pair, nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vfl.compute.woe import FeatureWoe, bin_counts, standardise, woe_iv
from vfl.core.errors import DataError, ProtocolError
from vfl.crypto.he.base import CipherVector, EncryptedHistogram, HEScheme
from vfl.protocols.analysis.passive import bin_features, encrypt_columns
from vfl.protocols.analysis.stages import (
    AnalysisConfig,
    Topics,
    local_stats,
    plan_pairs,
    read_info,
)
from vfl.transport.channel import Channel
from vfl.wire.v1 import analysis_pb2 as pb

__all__ = ["ActiveAnalysis", "analyse_active", "counts_from_sums"]

#: A decrypted CKKS count further than this from an integer is garbled, not rounding noise.
_COUNT_TOLERANCE = 0.05


@dataclass
class ActiveAnalysis:
    """The label holder's results: every feature's WOE/IV, the cross-party correlations, and
    what each passive shared about its columns."""

    features: list[dict[str, Any]]
    correlation: list[dict[str, Any]]
    shared: dict[str, list[dict[str, Any]]]
    own_stats: list[dict[str, Any]]
    label: dict[str, int] = field(default_factory=dict)


def counts_from_sums(
    g: np.ndarray, h: np.ndarray, n_bins: list[int], n: int, min_count: int, peer: str
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Decrypted (events, rows) per feature, checked: whole numbers, every non-empty bin at least
    ``min_count`` rows, rows summing to ``n``, events never above rows."""
    out = []
    for f, nb in enumerate(n_bins):
        ev, rows = np.rint(g[f, :nb]), np.rint(h[f, :nb])
        if (
            np.abs(g[f] - np.rint(g[f])).max() > _COUNT_TOLERANCE
            or np.abs(h[f] - np.rint(h[f])).max() > _COUNT_TOLERANCE
            or np.any(np.rint(h[f, nb:]) != 0)
        ):
            raise ProtocolError(f"{peer}'s bin sums of feature {f} are not counts")
        if rows.sum() != n or np.any(ev < 0) or np.any(ev > rows):
            raise ProtocolError(f"{peer}'s bin counts of feature {f} do not add up to {n} rows")
        if np.any((rows > 0) & (rows < min_count)):
            raise ProtocolError(f"{peer} reported a bin of feature {f} under the minimum count {min_count}")
        out.append((ev, rows))
    return out


def _noisy(
    events: np.ndarray, rows: np.ndarray, epsilon: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Laplace noise of scale 2/epsilon on each bin's events and non-events (one person moves
    one unit in one bin of a feature: L1 sensitivity 2), clipped at zero; empty bins stay empty."""
    non = rows - events
    e = np.maximum(events + rng.laplace(0.0, 2.0 / epsilon, events.shape), 0.0)
    ne = np.maximum(non + rng.laplace(0.0, 2.0 / epsilon, non.shape), 0.0)
    keep = rows > 0
    return np.where(keep, e, 0.0), np.where(keep, e + ne, 0.0)


def _feature(
    party: str, name: str, fw: FeatureWoe, edges: list[float] | None, missing_bin: int, n_bins: int
) -> dict[str, Any]:
    return {
        "party": party,
        "name": name,
        "edges": edges,
        "missing_bin": missing_bin,
        "n_bins": n_bins,
        "woe": fw.woe,
        "iv": fw.iv,
        "events": fw.events.tolist(),
        "rows": fw.rows.tolist(),
    }


def analyse_active(
    channel: Channel,
    X: np.ndarray,
    names: list[str],
    y: np.ndarray,
    *,
    scheme: HEScheme,
    cfg: AnalysisConfig,
    passives: list[str],
) -> ActiveAnalysis:
    """Run one analysis job as the label holder over ``passives``."""
    y = np.asarray(y, dtype=np.float64)
    if not np.all((y == 0) | (y == 1)):
        raise DataError("WOE/IV needs a binary label (0/1)", "analyse a binary outcome column")
    X = np.asarray(X, dtype=np.float64)
    n, job, me = len(y), channel.job_id, channel.me
    total_events = float(y.sum())
    if total_events in (0.0, float(n)):
        raise DataError("the label has one class only on the aligned rows", "WOE needs both classes")
    channel.broadcast(
        Topics.SETUP,
        pb.AnalysisSetup(
            n_rows=n,
            max_bin=cfg.max_bin,
            min_count=cfg.min_count,
            correlation=cfg.correlation,
            he_context=scheme.public_context(),
        ),
        passives,
    )
    shared = {p: read_info(channel.recv(p, Topics.INFO, pb.AnalysisInfo), p, n) for p in passives}
    channel.broadcast(
        Topics.LABELS, pb.AnalysisLabels(y=scheme.serialize(scheme.encrypt_gh(y, np.ones(n)), job)), passives
    )
    rng = np.random.default_rng([cfg.seed, 0xA1])
    features = []
    fbs, idx = bin_features(X, cfg.max_bin, cfg.min_count)
    for f, fb in enumerate(fbs):
        ev, rows = bin_counts(idx[:, f], y, fb.n_bins)
        features.append(
            _feature(
                me, names[f], woe_iv(ev, rows, total_events, n), fb.edges.tolist(), fb.missing, fb.n_bins
            )
        )
    for p in passives:
        msg = channel.recv(p, Topics.BINS, pb.AnalysisBinSums)
        hist = scheme.deserialize(msg.sums, job)
        width = len(shared[p])
        if (
            not isinstance(hist, EncryptedHistogram)
            or hist.n_features != width
            or hist.n_bins != cfg.max_bin + 1
            or len(msg.n_bins) != width
            or any(not 2 <= b <= cfg.max_bin + 1 for b in msg.n_bins)
        ):
            raise ProtocolError(f"{p} sent bin sums of the wrong shape")
        g, h = scheme.decrypt_histogram(hist)
        for f, (ev, rows) in enumerate(counts_from_sums(g, h, list(msg.n_bins), n, cfg.min_count, p)):
            if cfg.dp_epsilon is not None:
                ev, rows = _noisy(ev, rows, cfg.dp_epsilon, rng)
            features.append(
                _feature(
                    p,
                    shared[p][f]["name"],
                    woe_iv(ev, rows, total_events, n),
                    None,
                    int(msg.n_bins[f]) - 1,
                    int(msg.n_bins[f]),
                )
            )
    correlation = _correlate(channel, scheme, X, names, shared, passives) if cfg.correlation else []
    return ActiveAnalysis(
        features, correlation, shared, local_stats(X, names), {"rows": n, "events": int(total_events)}
    )


def _correlate(
    channel: Channel,
    scheme: HEScheme,
    X: np.ndarray,
    names: list[str],
    shared: dict[str, list[dict[str, Any]]],
    passives: list[str],
) -> list[dict[str, Any]]:
    """Plan every cross-party pair, encrypt our columns for ours, decrypt the inner products."""
    me, job = channel.me, channel.job_id
    columns = {me: X.shape[1], **{p: len(shared[p]) for p in passives}}
    feature_names = {me: names, **{p: [s["name"] for s in shared[p]] for p in passives}}
    pairs = plan_pairs([me, *passives], columns)
    channel.broadcast(
        Topics.PLAN,
        pb.CorrelationPlan(
            pairs=[
                pb.CorrelationPair(
                    encryptor=a, evaluator=b, encryptor_columns=columns[a], evaluator_columns=columns[b]
                )
                for a, b in pairs
            ]
        ),
        passives,
    )
    Z, ok = standardise(X)
    if any(a == me for a, _ in pairs):
        mine = encrypt_columns(scheme, Z, job)
        for a, b in pairs:
            if a == me:
                channel.send(b, Topics.columns(me), mine)
    out = []
    for a, b in pairs:
        msg = channel.recv(b, Topics.products(a, b), pb.CorrelationProducts)
        if msg.encryptor != a or len(msg.products) != columns[a]:
            raise ProtocolError(f"{b} sent {len(msg.products)} products for {a}'s {columns[a]} columns")
        for i, batch in enumerate(msg.products):
            enc = scheme.deserialize(batch, job)
            if not isinstance(enc, CipherVector) or len(enc) != columns[b]:
                raise ProtocolError(f"{b} sent products of the wrong length")
            r = scheme.decrypt(enc) / len(X)  # Z_a . Z_b / n
            for j in range(columns[b]):
                # our own constant column has no r; a passive's constant column reads as 0
                constant = a == me and not ok[i]
                value = None if constant else float(np.clip(r[j], -1.0, 1.0))
                out.append(
                    {
                        "a": {"party": a, "name": feature_names[a][i]},
                        "b": {"party": b, "name": feature_names[b][j]},
                        "r": value,
                    }
                )
    return out
