"""Quantile binning, fitted once per job: each feature's values become small integer bins.

Bin ``j`` of a feature holds ``cuts[j-1] < x <= cuts[j]``; the split "bin <= j goes left" is
therefore the threshold rule ``x <= cuts[j]``. Missing values (NaN) get their own last bin
(index ``max_bin``), so a split can learn where they go. Cuts are kept as NumPy float64 because
they are the party's private thresholds, stored in its model file and never sent.

A categorical column (integer codes 0..k-1 from the party's category map, NaN for a missing or
unseen category) gets one bin per category whatever the rows hold: cuts at 0.5, 1.5, ..., so
category code c is bin c, and a category unseen in training (NaN) lands in the missing bin.
Splits are then "code <= c goes left", over the map's (text) order of the categories.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from array_api_compat import device as _dev

from vfl.compute.backend import to_numpy
from vfl.core.errors import ConfigError

__all__ = ["BinMapper", "category_cuts", "fit_bins"]


@dataclass
class BinMapper:
    """Per-feature cut points; ``n_bins = max_bin + 1`` counting the missing bin."""

    cuts: list[np.ndarray]
    max_bin: int

    @property
    def n_features(self) -> int:
        return len(self.cuts)

    @property
    def n_bins(self) -> int:
        return self.max_bin + 1

    @property
    def missing_bin(self) -> int:
        return self.max_bin

    def transform(self, xp: Any, X: Any) -> Any:
        """(n, F) float features -> (n, F) int64 bins on the same namespace."""
        if X.shape[1] != self.n_features:
            raise ConfigError(
                f"data has {X.shape[1]} features, the bins were fitted on {self.n_features}",
                "bin the same columns that the model was trained on",
            )
        cols = []
        for f in range(self.n_features):
            col = xp.asarray(X[:, f], copy=True)  # contiguous, for torch's searchsorted
            cuts = xp.asarray(self.cuts[f], dtype=col.dtype, device=_dev(col))
            b = xp.astype(xp.searchsorted(cuts, col, side="left"), xp.int64)
            cols.append(
                xp.where(xp.isnan(col), xp.asarray(self.missing_bin, dtype=xp.int64, device=_dev(col)), b)
            )
        return xp.stack(cols, axis=1)

    def threshold(self, feature: int, bin_: int) -> float:
        """The value behind candidate ``bin <= bin_``; +inf when every present value goes left."""
        cuts = self.cuts[feature]
        return float(cuts[bin_]) if bin_ < len(cuts) else math.inf

    def to_dict(self) -> dict[str, object]:
        return {"max_bin": self.max_bin, "cuts": [c.tolist() for c in self.cuts]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BinMapper:
        return cls([np.asarray(c, dtype=np.float64) for c in d["cuts"]], int(d["max_bin"]))


def category_cuts(n_categories: int, max_bin: int, what: str = "a categorical column") -> np.ndarray:
    """Cuts giving each of ``n_categories`` codes its own bin (code c in bin c)."""
    if n_categories > max_bin:
        raise ConfigError(
            f"{what} has {n_categories} categories but max_bin={max_bin} bins",
            f"set max_bin to at least {n_categories}, or group rare categories together",
        )
    return np.arange(max(n_categories - 1, 0), dtype=np.float64) + 0.5


def fit_bins(xp: Any, X: Any, max_bin: int, categories: Sequence[int] | None = None) -> BinMapper:
    """Quantile cut points per feature, at most ``max_bin`` bins for present values.

    A feature with at most ``max_bin`` distinct values gets one bin per value (cuts halfway
    between neighbours); otherwise the i/max_bin quantile values v_i of its present values
    start new bins, as in xgboost's ``hist`` (left of the cut means ``x < v_i``).
    ``categories[f]`` > 0: feature f is categorical with that many categories (one bin each).
    """
    if not 2 <= max_bin <= 1024:
        raise ConfigError(f"max_bin={max_bin} is out of range", "use 2 <= max_bin <= 1024")
    if categories is not None and len(categories) != X.shape[1]:
        raise ConfigError(f"{len(categories)} category counts for {X.shape[1]} features")
    cuts: list[np.ndarray] = []
    for f in range(X.shape[1]):
        if categories is not None and categories[f] > 0:
            cuts.append(category_cuts(int(categories[f]), max_bin, f"feature {f}"))
            continue
        col = X[:, f]
        v = xp.sort(col[~xp.isnan(col)], stable=False)
        n = v.shape[0]
        if n == 0:
            cuts.append(np.empty(0))
            continue
        # v is sorted, so its distinct values are where it changes: no second sort.
        starts = xp.concat([xp.ones(1, dtype=xp.bool, device=_dev(v)), v[1:] != v[:-1]])
        uniq = v[starts]
        if uniq.shape[0] <= max_bin:
            c = (uniq[:-1] + uniq[1:]) / 2
        else:
            idx = xp.asarray([(i * n) // max_bin for i in range(1, max_bin)], dtype=xp.int64, device=_dev(v))
            c = xp.sort(xp.unique_values(xp.take(v, idx)), stable=False)
            c = c[c > uniq[0]]  # a cut below every value would leave an empty first bin
            # "x < v" (xgboost's rule for a cut value v) is "x <= the float just below v".
            c = xp.nextafter(c, xp.full_like(c, -xp.inf))
        cuts.append(np.asarray(to_numpy(c), dtype=np.float64))
    return BinMapper(cuts, max_bin)
