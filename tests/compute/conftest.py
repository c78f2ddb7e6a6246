"""Backends every compute test runs on: NumPy always, PyTorch-CPU when torch is importable, and
PyTorch-CUDA when a GPU is visible (the device machine; CI has none)."""

from __future__ import annotations

import numpy as np
import pytest

from vfl.compute import Backend, get_backend


@pytest.fixture(params=["numpy", "torch", "cuda"])
def backend(request: pytest.FixtureRequest) -> Backend:
    if request.param == "numpy":
        return get_backend("cpu")
    torch = pytest.importorskip("torch")
    if request.param == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA GPU visible")
    return get_backend(request.param)


@pytest.fixture
def data() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    n = 500
    X = rng.normal(size=(n, 4))
    X[:, 2] = rng.integers(0, 5, size=n)  # few distinct values
    X[rng.random(n) < 0.1, 1] = np.nan  # missing values
    y = (X[:, 0] + 0.5 * np.nan_to_num(X[:, 1]) + rng.normal(scale=0.5, size=n) > 0).astype(float)
    return {
        "X": X,
        "y": y,
        "margin": rng.normal(size=n),
        "mmargin": rng.normal(size=(n, 3)),
        "ymulti": rng.integers(0, 3, size=n).astype(float),
    }
