"""Plaintext gradient histograms: per feature and bin, the sums of g and h over a node's rows."""

from __future__ import annotations

from typing import Any

from array_api_compat import device as _dev

from vfl.compute.backend import bincount

__all__ = ["histogram"]


def histogram(xp: Any, bins: Any, g: Any, h: Any, rows: Any | None, n_bins: int) -> tuple[Any, Any]:
    """(G, H), each (F, n_bins), from (n, F) int bins and per-row g, h; ``rows`` selects a node.

    One bincount per statistic over offsets ``bin + f * n_bins`` does all features at once.
    """
    if rows is not None:
        bins = xp.take(bins, rows, axis=0)
        g = xp.take(g, rows, axis=0)
        h = xp.take(h, rows, axis=0)
    m, n_feat = bins.shape
    offsets = bins + xp.arange(n_feat, dtype=bins.dtype, device=_dev(bins))[None, :] * n_bins
    idx = xp.reshape(offsets, (-1,))
    size = n_feat * n_bins
    gw = xp.reshape(xp.broadcast_to(g[:, None], (m, n_feat)), (-1,))
    hw = xp.reshape(xp.broadcast_to(h[:, None], (m, n_feat)), (-1,))
    G = xp.reshape(bincount(xp, idx, gw, size), (n_feat, n_bins))
    H = xp.reshape(bincount(xp, idx, hw, size), (n_feat, n_bins))
    return G, H
