"""The scorecard's WOE step: the label holder tells each passive the WOE of its own bins, and
every party replaces its column values by their bin's WOE locally, in front of the linear model.

What this adds to the analysis's leakage: a passive learns the WOE (the log ratio of event and
non-event shares) of each of its own bins, as in SecretFlow's vertical WOE substitution.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vfl.compute.woe import FeatureBins
from vfl.core.errors import ProtocolError
from vfl.transport.channel import Channel
from vfl.wire.v1 import analysis_pb2 as pb

__all__ = ["WOE_TOPIC", "recv_woe_map", "send_woe_maps", "woe_transform", "woe_values"]

WOE_TOPIC = "analysis/scorecard/woe"
_MAX_ABS_WOE = 50.0  # ln of a ratio of shares of at most ~1e7 rows each, with the 0.5 adjustment


def woe_values(feature: dict[str, Any]) -> np.ndarray:
    """A feature's WOE per bin, 0 for an empty bin (no row ever falls there)."""
    return np.array([0.0 if w is None else float(w) for w in feature["woe"]])


def send_woe_maps(channel: Channel, features: list[dict[str, Any]], passives: list[str]) -> None:
    for p in passives:
        own = [f for f in features if f["party"] == p]
        channel.send(
            p, WOE_TOPIC, pb.WoeMap(features=[pb.FeatureWoeMap(woe=woe_values(f).tolist()) for f in own])
        )


def recv_woe_map(channel: Channel, active: str, bins: list[FeatureBins]) -> list[np.ndarray]:
    msg = channel.recv(active, WOE_TOPIC, pb.WoeMap)
    if len(msg.features) != len(bins):
        raise ProtocolError(f"{active} sent WOE for {len(msg.features)} features, this party has {len(bins)}")
    out = []
    for fb, fm in zip(bins, msg.features, strict=True):
        w = np.asarray(fm.woe, dtype=np.float64)
        if len(w) != fb.n_bins or not np.all(np.isfinite(w)) or np.any(np.abs(w) > _MAX_ABS_WOE):
            raise ProtocolError(f"{active} sent a WOE map that does not fit this party's bins")
        out.append(w)
    return out


def woe_transform(X: np.ndarray, bins: list[FeatureBins], maps: list[np.ndarray]) -> np.ndarray:
    """Each value replaced by its bin's WOE (missing values by the missing bin's)."""
    X = np.asarray(X, dtype=np.float64)
    cols = [m[fb.assign(X[:, f])] for f, (fb, m) in enumerate(zip(bins, maps, strict=True))]
    return np.stack(cols, axis=1) if cols else np.empty((X.shape[0], 0))
