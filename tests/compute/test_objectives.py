"""Every objective against xgboost itself: the gradients and hessians (through the leaf value of a
one-leaf tree, -eta * sum g / (sum h + lambda), which xgboost computes from its own g, h), the
base margin, the output transform and the training-curve loss (xgboost's own eval metric)."""

from __future__ import annotations

import numpy as np
import pytest

from vfl.compute import (
    LOSS_METRIC,
    Backend,
    base_margin,
    check_labels,
    get_backend,
    gh_shift,
    grad_hess,
    initial_margin,
    n_outputs,
    task_of,
    train_loss,
    transform_margin,
)
from vfl.core.errors import ConfigError, DataError

xgb = pytest.importorskip("xgboost")

RNG = np.random.default_rng(7)
X = RNG.normal(size=(400, 3))
MU = np.exp(0.3 + 0.5 * X[:, 0])
LABELS = {
    "count:poisson": RNG.poisson(MU).astype(np.float64),
    "reg:gamma": RNG.gamma(2.0, MU / 2.0),
    "reg:tweedie": np.where(RNG.random(400) < 0.4, 0.0, RNG.gamma(2.0, MU / 2.0)),
    "reg:squarederror": 3.0 + X[:, 1] + RNG.normal(size=400),
}
ETA, LAMBDA = 0.3, 1.0


def _one_leaf(objective: str, y: np.ndarray, **extra: float) -> tuple[float, float]:
    """(xgboost's leaf value, its train metric) after one round of a tree that cannot split."""
    params = {
        "objective": objective,
        "eta": ETA,
        "lambda": LAMBDA,
        "gamma": 1e12,
        "max_depth": 1,
        "tree_method": "hist",
        "base_score": float(np.mean(y)),
        **extra,
    }
    d = xgb.DMatrix(X, label=y)
    res: dict = {}
    b = xgb.train(params, d, num_boost_round=1, evals=[(d, "train")], evals_result=res, verbose_eval=False)
    leaf = float(b.trees_to_dataframe()["Gain"].iloc[0])  # a lone leaf's value is in "Gain"
    return leaf, float(next(iter(res["train"].values()))[0])


@pytest.mark.parametrize("objective", sorted(LABELS))
def test_gradients_base_margin_and_loss_match_xgboost(objective: str) -> None:
    xp = get_backend("cpu").xp
    y = LABELS[objective]
    rho = 1.4
    extra = {"tweedie_variance_power": rho} if objective == "reg:tweedie" else {}
    m0 = base_margin(objective, y, None)
    g, h = grad_hess(xp, objective, y, np.full(len(y), m0), variance_power=rho)
    ours = -ETA * float(np.sum(g)) / (float(np.sum(h)) + LAMBDA)
    leaf, metric = _one_leaf(objective, y, **extra)
    assert ours == pytest.approx(leaf, rel=2e-4, abs=1e-6)
    margin = np.full(len(y), m0 + leaf)
    loss = train_loss(xp, objective, y, margin, variance_power=rho)
    assert loss == pytest.approx(metric, rel=2e-4)
    mean = transform_margin(xp, objective, margin)
    booster_mean = np.exp(m0 + leaf) if objective != "reg:squarederror" else m0 + leaf
    np.testing.assert_allclose(mean, booster_mean, rtol=1e-12)
    assert LOSS_METRIC[objective].split("-")[0] in ("poisson", "gamma", "tweedie", "rmse")


def test_poisson_hessian_carries_max_delta_step() -> None:
    xp = get_backend("cpu").xp
    g, h = grad_hess(xp, "count:poisson", np.array([0.0, 3.0]), np.array([0.0, 1.0]))
    np.testing.assert_allclose(g, [1.0, np.e - 3.0])
    np.testing.assert_allclose(h, np.exp([0.7, 1.7]))


def test_tweedie_power_limits_and_label_checks() -> None:
    from vfl.protocols.secureboost import SBTConfig

    with pytest.raises(ConfigError, match="tweedie_variance_power"):
        SBTConfig(objective="reg:tweedie", tweedie_variance_power=2.0)
    with pytest.raises(DataError, match="labels > 0"):
        check_labels("reg:gamma", np.array([1.0, 0.0]), None)
    with pytest.raises(DataError, match="negative"):
        check_labels("count:poisson", np.array([1.0, -1.0]), None)
    with pytest.raises(DataError, match="integer labels"):
        check_labels("multi:softprob", np.array([0.0, 3.0]), 3)
    check_labels("reg:tweedie", np.array([0.0, 2.5]), None)


def test_tasks_and_multiclass_outputs() -> None:
    assert [
        task_of(o)
        for o in (
            "binary:logistic",
            "multi:softprob",
            "reg:squarederror",
            "count:poisson",
            "reg:gamma",
            "reg:tweedie",
        )
    ] == ["binary", "multiclass", "regression", "count", "cost", "tweedie"]
    assert n_outputs("multi:softprob", 3) == 3
    with pytest.raises(ConfigError, match="num_class"):
        n_outputs("multi:softmax", None)
    with pytest.raises(ConfigError, match="unknown objective"):
        task_of("reg:absoluteerror")


def test_offset_replaces_the_base_margin() -> None:
    y = np.array([1.0, 2.0, 3.0])
    b, start = initial_margin("count:poisson", y, None, None)
    assert b == pytest.approx(np.log(2.0)) and (start == b).all()
    off = np.log(np.array([0.5, 1.0, 2.0]))
    b, start = initial_margin("count:poisson", y, None, off)
    assert b == 0.0 and np.array_equal(start, off)
    with pytest.raises(DataError, match="offset"):
        initial_margin("count:poisson", y, None, np.array([0.0, np.nan, 1.0]))


def test_headroom_shift_keeps_sums_below_the_limit() -> None:
    g = np.full(1000, 3e7)  # squared error on a label in the tens of millions
    h = np.ones(1000)
    s = gh_shift(g, h)
    total, top = np.abs(g).sum() + h.sum(), np.abs(g).max()
    assert total * 2.0**-s < 2.0**30 and top * 2.0**-s < 2.0**16
    assert total * 2.0 ** (1 - s) >= 2.0**30 or top * 2.0 ** (1 - s) >= 2.0**16  # the smallest shift
    assert gh_shift(np.full(2**12, 2.0**15), np.ones(2**12)) == 0  # just below both limits
    assert gh_shift(np.full(2**15, 2.0**15), np.ones(2**15)) == 1  # the sum decides
    assert gh_shift(np.full(10, 0.5), np.full(10, 0.25)) == 0
    assert gh_shift(np.array([2.0**20]), np.array([1.0])) == 5  # one large value: below 2^16
    with pytest.raises(DataError, match="not finite"):
        gh_shift(np.array([np.inf]), np.array([1.0]))


@pytest.mark.parametrize("objective", sorted(LABELS))
def test_every_backend_computes_the_same_gradients(backend: Backend, objective: str) -> None:
    """NumPy, PyTorch-CPU (and CUDA on the device machine) agree to float64 rounding."""
    from vfl.compute import to_numpy

    y = LABELS[objective]
    m = np.random.default_rng(3).normal(scale=0.5, size=len(y)) + base_margin(objective, y, None)
    ref = grad_hess(get_backend("cpu").xp, objective, y, m, variance_power=1.3)
    got = grad_hess(backend.xp, objective, backend.asarray(y), backend.asarray(m), variance_power=1.3)
    for r, g in zip(ref, got, strict=True):
        np.testing.assert_allclose(to_numpy(g), r, rtol=1e-12)
    mean = transform_margin(backend.xp, objective, backend.asarray(m))
    np.testing.assert_allclose(to_numpy(mean), transform_margin(np, objective, m), rtol=1e-12)
    loss = train_loss(backend.xp, objective, backend.asarray(y), backend.asarray(m), variance_power=1.3)
    assert loss == pytest.approx(train_loss(np, objective, y, m, variance_power=1.3), rel=1e-12)
