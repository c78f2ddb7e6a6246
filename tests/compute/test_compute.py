"""Each compute function on NumPy and (when importable) PyTorch-CPU, against a reference."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from vfl.compute import (
    LOSS_METRIC,
    Backend,
    SplitRule,
    accuracy,
    auc,
    auc_ovr,
    best_split,
    fit_bins,
    get_backend,
    grad_hess,
    histogram,
    leaf_weight,
    rmse,
    route_rows,
    sigmoid,
    softmax,
    split_gains,
    to_numpy,
    train_loss,
)
from vfl.core.errors import ConfigError


def _np_binned(X: np.ndarray, max_bin: int) -> np.ndarray:
    xp = get_backend("cpu").xp
    return fit_bins(xp, X, max_bin).transform(xp, X)


def test_bins_respect_max_bin_and_missing(backend: Backend, data: dict) -> None:
    X = data["X"]
    mapper = fit_bins(backend.xp, backend.asarray(X), 8)
    bins = to_numpy(mapper.transform(backend.xp, backend.asarray(X)))
    assert bins.dtype == np.int64 and bins.shape == X.shape
    assert (bins[np.isnan(X)] == 8).all() and (bins[~np.isnan(X)] < 8).all()
    assert len(np.unique(bins[:, 2])) == 5  # one bin per distinct value
    for f in range(X.shape[1]):  # bin <= j  <=>  x <= threshold(f, j)
        present = ~np.isnan(X[:, f])
        for j in range(len(mapper.cuts[f])):
            assert ((bins[present, f] <= j) == (X[present, f] <= mapper.threshold(f, j))).all()
    np.testing.assert_array_equal(bins, _np_binned(X, 8))


def test_bins_are_roughly_quantiles() -> None:
    x = np.random.default_rng(1).normal(size=(10_000, 1))
    xp = get_backend("cpu").xp
    counts = np.bincount(fit_bins(xp, x, 32).transform(xp, x)[:, 0])
    assert len(counts) == 32 and counts.min() > 250 and counts.max() < 380


def test_max_bin_is_checked() -> None:
    with pytest.raises(ConfigError, match="max_bin"):
        fit_bins(get_backend("cpu").xp, np.zeros((3, 1)), 1)


def test_grad_hess_match_formulas(backend: Backend, data: dict) -> None:
    xp, m, y = backend.xp, data["margin"], data["y"]
    g, h = grad_hess(xp, "binary:logistic", backend.asarray(y), backend.asarray(m))
    p = 1 / (1 + np.exp(-m))
    np.testing.assert_allclose(to_numpy(g), p - y, rtol=1e-12)
    np.testing.assert_allclose(to_numpy(h), p * (1 - p), rtol=1e-12)
    mm, ym = data["mmargin"], data["ymulti"]
    g, h = grad_hess(xp, "multi:softmax", backend.asarray(ym), backend.asarray(mm))
    e = np.exp(mm - mm.max(1, keepdims=True))
    pm = e / e.sum(1, keepdims=True)
    np.testing.assert_allclose(to_numpy(g), pm - np.eye(3)[ym.astype(int)], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(to_numpy(h), 2 * pm * (1 - pm), rtol=1e-12)
    g, h = grad_hess(xp, "reg:squarederror", backend.asarray(y), backend.asarray(m))
    np.testing.assert_allclose(to_numpy(g), m - y)
    assert (to_numpy(h) == 1).all()


def test_train_loss_is_xgboosts_default_metric(backend: Backend, data: dict) -> None:
    from sklearn.metrics import log_loss

    xp, m, y = backend.xp, data["margin"], data["y"]
    got = train_loss(xp, "binary:logistic", backend.asarray(y), backend.asarray(m))
    assert LOSS_METRIC["binary:logistic"] == "logloss"
    assert got == pytest.approx(log_loss(y, 1 / (1 + np.exp(-m))), rel=1e-9)
    mm, ym = data["mmargin"], data["ymulti"]
    pm = np.exp(mm) / np.exp(mm).sum(1, keepdims=True)
    got = train_loss(xp, "multi:softmax", backend.asarray(ym), backend.asarray(mm))
    assert got == pytest.approx(log_loss(ym, pm, labels=[0, 1, 2]), rel=1e-9)
    got = train_loss(xp, "reg:squarederror", backend.asarray(y), backend.asarray(m))
    assert got == pytest.approx(float(np.sqrt(np.mean((m - y) ** 2))), rel=1e-9)


def test_sigmoid_softmax_are_stable(backend: Backend) -> None:
    xp = backend.xp
    s = to_numpy(sigmoid(xp, backend.asarray(np.array([-1000.0, 0.0, 1000.0]))))
    np.testing.assert_allclose(s, [0.0, 0.5, 1.0])
    sm = to_numpy(softmax(xp, backend.asarray(np.array([[1000.0, 0.0], [0.0, 0.0]]))))
    np.testing.assert_allclose(sm, [[1.0, 0.0], [0.5, 0.5]])


def test_histogram_equals_loop(backend: Backend, data: dict) -> None:
    X = data["X"]
    bins = _np_binned(X, 8)
    g, h = data["margin"], np.abs(data["margin"])
    rows = np.flatnonzero(data["y"] == 1)
    G, H = histogram(
        backend.xp, backend.asarray(bins), backend.asarray(g), backend.asarray(h), backend.asarray(rows), 9
    )
    G_ref = np.zeros((4, 9))
    H_ref = np.zeros((4, 9))
    for r in rows:
        for f in range(4):
            G_ref[f, bins[r, f]] += g[r]
            H_ref[f, bins[r, f]] += h[r]
    np.testing.assert_allclose(to_numpy(G), G_ref, atol=1e-12)
    np.testing.assert_allclose(to_numpy(H), H_ref, atol=1e-12)


def _brute_best(G: np.ndarray, H: np.ndarray, lam: float, gamma: float, mcw: float):
    best = None
    for f in range(G.shape[0]):
        for j in range(G.shape[1] - 1):
            for miss_left in (True, False):
                gl = G[f, : j + 1].sum() + (G[f, -1] if miss_left else 0)
                hl = H[f, : j + 1].sum() + (H[f, -1] if miss_left else 0)
                gt, ht = G[f].sum(), H[f].sum()
                gr, hr = gt - gl, ht - hl
                if hl < mcw or hr < mcw or hl <= 0 or hr <= 0:
                    continue
                chg = gl**2 / (hl + lam) + gr**2 / (hr + lam) - gt**2 / (ht + lam)
                if chg <= 1e-6 or chg < gamma:
                    continue
                if best is None or chg - gamma > best[0] + 1e-12:
                    best = (chg - gamma, f, j, miss_left)
    return best


@pytest.mark.parametrize("gamma,mcw", [(0.0, 1.0), (0.5, 5.0), (0.0, 0.0)])
def test_best_split_matches_brute_force(backend: Backend, data: dict, gamma: float, mcw: float) -> None:
    X, y = data["X"], data["y"]
    bins = _np_binned(X, 8)
    p = np.full(len(y), y.mean())
    G, H = histogram(get_backend("cpu").xp, bins, p - y, p * (1 - p), None, 9)
    rule = SplitRule(reg_lambda=1.0, gamma=gamma, min_child_weight=mcw)
    got = best_split(backend.xp, backend.asarray(G), backend.asarray(H), rule)
    ref = _brute_best(G, H, 1.0, gamma, mcw)
    assert got is not None and ref is not None
    assert (got.feature, got.bin, got.default_left) == ref[1:]
    assert got.gain == pytest.approx(ref[0], rel=1e-9)
    gains = to_numpy(split_gains(backend.xp, backend.asarray(G), backend.asarray(H), rule))
    assert gains.shape == (4, 8, 2)


def test_missing_values_pick_a_direction(backend: Backend) -> None:
    # Missing rows carry strongly negative gradients, like bin 0: they belong on the left.
    G = np.array([[-10.0, 0.0, 5.0, 5.0, -10.0]])
    H = np.array([[5.0, 1.0, 5.0, 5.0, 5.0]])
    got = best_split(backend.xp, backend.asarray(G), backend.asarray(H), SplitRule())
    assert got is not None and got.default_left and got.bin in (0, 1)
    assert got.left_g == pytest.approx(-20.0) and got.total_g == pytest.approx(-10.0)


def test_no_valid_split_returns_none(backend: Backend) -> None:
    G = np.array([[1.0, 1.0, 0.0]])
    H = np.array([[0.5, 0.5, 0.0]])
    assert best_split(backend.xp, backend.asarray(G), backend.asarray(H), SplitRule()) is None


def test_leaf_weight() -> None:
    assert leaf_weight(4.0, 3.0, 1.0, 0.5) == pytest.approx(-0.5)


def test_metrics_match_sklearn(backend: Backend, data: dict) -> None:
    xp, y = backend.xp, data["y"]
    s = np.round(data["margin"], 1)  # ties
    assert auc(xp, backend.asarray(y), backend.asarray(s)) == pytest.approx(roc_auc_score(y, s))
    ym = data["ymulti"]
    mm = data["mmargin"]
    pm = np.exp(mm) / np.exp(mm).sum(1, keepdims=True)
    ref = roc_auc_score(ym, pm, multi_class="ovr", average="macro")
    assert auc_ovr(xp, backend.asarray(ym), backend.asarray(pm)) == pytest.approx(ref)
    assert rmse(xp, backend.asarray(y), backend.asarray(s)) == pytest.approx(
        float(np.sqrt(np.mean((y - s) ** 2)))
    )
    assert accuracy(xp, backend.asarray(ym), backend.asarray(np.argmax(pm, 1))) == pytest.approx(
        float(np.mean(ym == np.argmax(pm, 1)))
    )


def test_route_rows(backend: Backend) -> None:
    # node 0 splits (slot 0) into 1 (leaf) and 2; node 2 splits (slot 1) into 3 and 4.
    go_left = np.array([[True, False, False], [False, True, False]])
    slot = np.array([0, -1, 1, -1, -1])
    left = np.array([1, -1, 3, -1, -1])
    right = np.array([2, -1, 4, -1, -1])
    xp = backend.xp
    leaf = route_rows(
        xp, backend.asarray(go_left), backend.asarray(slot), backend.asarray(left), backend.asarray(right), 3
    )
    np.testing.assert_array_equal(to_numpy(leaf), [1, 3, 4])


def test_unknown_device() -> None:
    with pytest.raises(ConfigError, match="unknown compute device"):
        get_backend("tpu")


def test_public_names_are_pinned() -> None:
    import vfl.compute as c

    assert sorted(c.__all__) == sorted(
        [
            "Backend",
            "BestSplit",
            "BinMapper",
            "DEVICES",
            "LOSS_METRIC",
            "OBJECTIVES",
            "SplitRule",
            "accuracy",
            "train_loss",
            "auc",
            "auc_ovr",
            "base_margin",
            "best_split",
            "bincount",
            "check_labels",
            "fit_bins",
            "get_backend",
            "grad_hess",
            "histogram",
            "leaf_weight",
            "linear_scores",
            "log_loss",
            "logistic",
            "lr_gradient",
            "lr_residual",
            "n_outputs",
            "rmse",
            "route_rows",
            "sigmoid",
            "softmax",
            "split_gains",
            "take_rows",
            "tie_tolerance",
            "to_numpy",
            "transform_margin",
            "GH_SUM_LIMIT_BITS",
            "GH_VALUE_LIMIT_BITS",
            "LOG_LINK",
            "MULTICLASS",
            "check_tweedie_power",
            "gh_shift",
            "initial_margin",
            "task_of",
        ]
    )
    assert all(hasattr(c, name) for name in c.__all__)
