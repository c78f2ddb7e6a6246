"""The LR algebra of vfl.compute.linear on every backend, against plain NumPy formulas, and the
``auto`` device rule."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from vfl.compute import (
    Backend,
    get_backend,
    linear_scores,
    log_loss,
    logistic,
    lr_gradient,
    lr_residual,
    sigmoid,
    take_rows,
    to_numpy,
)


@pytest.fixture
def lr_data() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(11)
    n, f = 300, 6
    return {
        "x": rng.normal(size=(n, f)),
        "w": rng.normal(size=f),
        "y": (rng.random(n) < 0.4).astype(np.float64),
        "sw": rng.uniform(0.5, 2.0, size=n),
        "rows": rng.permutation(n)[:64],
        "u": np.r_[rng.normal(scale=5, size=n - 4), [-800.0, 800.0, 0.0, 40.0]],  # extremes too
    }


def test_scores_and_rows_match_numpy(backend: Backend, lr_data: dict) -> None:
    x, w, rows = lr_data["x"], lr_data["w"], lr_data["rows"]
    xp = backend.xp
    xb = take_rows(xp, backend.asarray(x), rows)
    np.testing.assert_array_equal(to_numpy(xb), x[rows])  # a gather is exact on every backend
    got = to_numpy(linear_scores(xp, xb, backend.asarray(w)))
    np.testing.assert_allclose(got, x[rows] @ w, rtol=1e-12, atol=1e-12)


def test_logistic_and_log_loss_match_numpy(backend: Backend, lr_data: dict) -> None:
    xp, u, y = backend.xp, lr_data["u"], lr_data["y"]
    p = logistic(xp, backend.asarray(u))
    ref = 1.0 / (1.0 + np.exp(-np.clip(u, -700, 700)))
    # 1 + tanh cancels for very negative u: absolute (not relative) accuracy there
    np.testing.assert_allclose(to_numpy(p), ref, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(to_numpy(p), logistic(np, u), rtol=1e-13, atol=1e-300)
    assert np.all((to_numpy(p) >= 0) & (to_numpy(p) <= 1))  # no overflow at |u| = 800
    # same function as the trees' sigmoid, in another form (kept for bit-identical LR)
    np.testing.assert_allclose(to_numpy(p), to_numpy(sigmoid(xp, backend.asarray(u))), atol=1e-15)
    loss = to_numpy(log_loss(xp, p, backend.asarray(y)))
    pc = np.clip(to_numpy(p), 1e-12, 1 - 1e-12)
    np.testing.assert_allclose(loss, -(y * np.log(pc) + (1 - y) * np.log(1 - pc)), rtol=1e-10)
    assert np.all(np.isfinite(loss)) and loss.max() < 28  # clipped: at most about -log(1e-12)


def test_residual_and_gradient_match_numpy(backend: Backend, lr_data: dict) -> None:
    x, w, y, sw, rows = (lr_data[k] for k in ("x", "w", "y", "sw", "rows"))
    xp = backend.xp
    p = 1.0 / (1.0 + np.exp(-(x[rows] @ w)))
    d = lr_residual(xp, backend.asarray(p), backend.asarray(y[rows]), backend.asarray(sw[rows]))
    d_ref = sw[rows] * (p - y[rows]) / len(rows)
    np.testing.assert_allclose(to_numpy(d), d_ref, rtol=1e-14)
    g = to_numpy(lr_gradient(xp, backend.asarray(x[rows]), d))
    np.testing.assert_allclose(g, x[rows].T @ d_ref, rtol=1e-12, atol=1e-15)

    # the gradient of the mean weighted log-loss, checked by a central difference
    def loss(v: np.ndarray) -> float:
        q = 1.0 / (1.0 + np.exp(-(x[rows] @ v)))
        return float(np.sum(sw[rows] * -(y[rows] * np.log(q) + (1 - y[rows]) * np.log(1 - q)))) / len(rows)

    e = np.eye(len(w))[2] * 1e-6
    assert g[2] == pytest.approx((loss(w + e) - loss(w - e)) / 2e-6, rel=1e-6)


def test_numpy_backend_is_bit_identical_to_the_plain_formulas(lr_data: dict) -> None:
    """LR on the default backend must reproduce models and checkpoints written before."""
    xp = get_backend("cpu").xp
    x, w, y, sw, rows = (lr_data[k] for k in ("x", "w", "y", "sw", "rows"))
    u = take_rows(xp, x, rows) @ w
    p = logistic(xp, linear_scores(xp, take_rows(xp, x, rows), w))
    np.testing.assert_array_equal(p, 0.5 * (1.0 + np.tanh(0.5 * (x[rows] @ w))))
    np.testing.assert_array_equal(u, x[rows] @ w)
    d = lr_residual(xp, p, y[rows], sw[rows])
    np.testing.assert_array_equal(d, sw[rows] * (p - y[rows]) / len(rows))
    np.testing.assert_array_equal(lr_gradient(xp, x[rows], d), x[rows].T @ d)


def test_auto_takes_a_gpu_if_usable_else_numpy() -> None:
    be = get_backend("auto")
    if importlib.util.find_spec("torch") is not None:
        import torch

        if torch.cuda.is_available():
            assert be.name == "torch-cuda"
            return
    if importlib.util.find_spec("cupy") is None:
        assert be.name == "numpy"
    else:  # CuPy installed: it is used when it loads
        assert be.name in ("cupy", "numpy")
