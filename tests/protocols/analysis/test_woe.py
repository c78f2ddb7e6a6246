"""compute/woe.py: FATE's WOE/IV formula, the bin contract and the minimum count per bin."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vfl.compute.backend import get_backend
from vfl.compute.binning import fit_bins
from vfl.compute.woe import (
    FeatureBins,
    fit_feature_bins,
    pearson_plain,
    select_features,
    woe_iv,
    woe_iv_plain,
)
from vfl.core.errors import ConfigError, DataError


def test_woe_iv_is_fates_formula_with_the_adjustment_only_where_a_class_is_absent() -> None:
    events = np.array([10.0, 0.0, 30.0])
    rows = np.array([50.0, 20.0, 30.0])
    E, N = 40.0, 100.0  # 40 events, 60 non-events
    fw = woe_iv(events, rows, E, N)
    # bin 0: both classes present, no adjustment
    w0 = math.log((10 / 40) / (40 / 60))
    # bin 1: no events -> 0.5 added to both counts; rates over the unadjusted totals
    w1 = math.log((0.5 / 40) / (20.5 / 60))
    # bin 2: no non-events
    w2 = math.log((30.5 / 40) / (0.5 / 60))
    assert fw.woe == pytest.approx([w0, w1, w2], abs=1e-12)
    iv = (10 / 40 - 40 / 60) * w0 + (0.5 / 40 - 20.5 / 60) * w1 + (30.5 / 40 - 0.5 / 60) * w2
    assert fw.iv == pytest.approx(iv, abs=1e-12)


def test_an_empty_bin_has_no_woe_and_adds_nothing() -> None:
    fw = woe_iv(np.array([5.0, 0.0, 5.0]), np.array([10.0, 0.0, 10.0]), 10.0, 20.0)
    assert fw.woe[1] is None and fw.woe[0] == pytest.approx(0.0)
    assert fw.iv == pytest.approx(0.0)


def test_a_one_class_label_is_refused() -> None:
    with pytest.raises(DataError):
        woe_iv(np.array([3.0]), np.array([3.0]), 3.0, 3.0)


def test_edges_put_each_value_in_the_bin_fit_bins_would() -> None:
    rng = np.random.default_rng(0)
    x = np.round(rng.normal(size=2000), 2)
    fb = fit_feature_bins(x, max_bin=10, min_count=1)
    xp = get_backend("cpu").xp
    mapper = fit_bins(xp, x[:, None], 10)
    assert np.array_equal(fb.assign(x), np.asarray(mapper.transform(xp, x[:, None]))[:, 0])
    assert np.array_equal(fb.assign(x), np.searchsorted(fb.edges, x, side="right"))


def test_bins_are_merged_until_each_holds_the_minimum_count() -> None:
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(size=300), [50.0, 60.0, 70.0]])  # a thin upper tail
    for m in (1, 25, 80):
        fb = fit_feature_bins(x, max_bin=20, min_count=m)
        counts = np.bincount(fb.assign(x), minlength=fb.n_bins)
        assert counts[counts > 0].min() >= m
    assert len(fit_feature_bins(x, 20, 80).edges) < len(fit_feature_bins(x, 20, 1).edges)


def test_missing_values_get_their_own_bin_unless_too_few() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=400)
    x[:50] = np.nan
    fb = fit_feature_bins(x, max_bin=8, min_count=20)
    assert fb.missing == len(fb.edges) + 1
    assert np.all(fb.assign(x)[:50] == fb.missing) and np.all(fb.assign(x)[50:] < fb.missing)
    x[5:] = np.where(np.isnan(x[5:]), 0.0, x[5:])  # only 5 missing now
    few = fit_feature_bins(x, max_bin=8, min_count=20)
    assert few.missing == 0
    counts = np.bincount(few.assign(x), minlength=few.n_bins)
    assert counts[counts > 0].min() >= 20


def test_plain_woe_counts_the_missing_bin() -> None:
    x = np.array([0.0, 0.0, 1.0, 1.0, np.nan, np.nan])
    y = np.array([0.0, 1.0, 1.0, 1.0, 0.0, 0.0])
    fb = FeatureBins(np.array([0.5]), missing=2)
    fw = woe_iv_plain(x, y, fb)
    assert fw.rows.tolist() == [2.0, 2.0, 2.0] and fw.events.tolist() == [1.0, 2.0, 0.0]


def test_min_count_below_one_is_refused() -> None:
    with pytest.raises(ConfigError):
        fit_feature_bins(np.arange(10.0), 4, 0)


def test_pearson_plain_is_numpys() -> None:
    rng = np.random.default_rng(3)
    a = rng.normal(size=(200, 2))
    b = np.column_stack([a[:, 0] + rng.normal(size=200), rng.normal(size=200)])
    ref = np.corrcoef(np.column_stack([a, b]), rowvar=False)[:2, 2:]
    assert np.allclose(pearson_plain(a, b), ref, atol=1e-12)


def test_selection_keeps_the_more_informative_of_two_correlated_features() -> None:
    feats = [
        {"party": "a", "name": "x", "iv": 0.5},
        {"party": "b", "name": "y", "iv": 0.3},
        {"party": "b", "name": "z", "iv": 0.01},
        {"party": "a", "name": "w", "iv": 0.2},
    ]
    corr = [
        {"a": {"party": "a", "name": "x"}, "b": {"party": "b", "name": "y"}, "r": -0.95},
        {"a": {"party": "a", "name": "w"}, "b": {"party": "b", "name": "y"}, "r": 0.2},
    ]
    sel = select_features(feats, corr, iv_min=0.02, max_abs_r=0.9)
    assert sel == {"a": ["x", "w"], "b": []}
