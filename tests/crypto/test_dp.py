"""DP helpers: noise shape/scale, clipping bounds, and accounting equal to dp_accounting's."""

from __future__ import annotations

import numpy as np
import pytest
from dp_accounting import dp_event
from dp_accounting.rdp import rdp_privacy_accountant

import vfl.crypto.dp as dp
from vfl.core.errors import ConfigError


def _reference_epsilon(sigma: float, q: float, steps: int, delta: float) -> float:
    acc = rdp_privacy_accountant.RdpAccountant()
    acc.compose(
        dp_event.SelfComposedDpEvent(
            dp_event.PoissonSampledDpEvent(q, dp_event.GaussianDpEvent(sigma)), steps
        )
    )
    return acc.get_epsilon(delta)


def test_all_is_pinned() -> None:
    assert sorted(dp.__all__) == sorted(
        [
            "DPAccountant",
            "MAX_NOISE_MULTIPLIER",
            "calibrate_noise",
            "clip_norm",
            "clip_rows",
            "gaussian_noise",
            "secure_rng",
        ]
    )


@pytest.mark.parametrize(("sigma", "q", "steps"), [(1.0, 0.01, 1000), (0.8, 0.1, 50), (3.0, 0.5, 10)])
def test_accountant_matches_dp_accounting(sigma: float, q: float, steps: int) -> None:
    got = dp.DPAccountant(sigma, q, steps, 1e-5).epsilon()
    assert got == pytest.approx(_reference_epsilon(sigma, q, steps, 1e-5), rel=1e-9)


def test_calibrate_meets_budget_tightly() -> None:
    sigma = dp.calibrate_noise(8.0, 1e-5, 1024 / 21600, 5 * 22)
    eps = _reference_epsilon(sigma, 1024 / 21600, 5 * 22, 1e-5)
    assert eps <= 8.0
    assert _reference_epsilon(sigma * 0.99, 1024 / 21600, 5 * 22, 1e-5) > 8.0  # not wasteful


def test_calibrate_refuses_unreachable_budget() -> None:
    with pytest.raises(ConfigError) as err:
        dp.calibrate_noise(0.001, 1e-5, 1.0, 10_000)
    assert "epsilon" in err.value.cause and err.value.hint


@pytest.mark.parametrize(
    "bad", [dict(delta=0.0), dict(delta=1.0), dict(sample_rate=0.0), dict(steps=0), dict(epsilon=-1.0)]
)
def test_calibrate_rejects_bad_schedule(bad: dict[str, float]) -> None:
    args = dict(epsilon=1.0, delta=1e-5, sample_rate=0.1, steps=10) | bad
    with pytest.raises(ConfigError):
        dp.calibrate_noise(**args)  # type: ignore[arg-type]


def test_clipping_bounds_norms() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(0, 5, size=(200, 7))
    c = dp.clip_rows(x, 2.0)
    assert np.all(np.linalg.norm(c, axis=1) <= 2.0 + 1e-12)
    small = np.linalg.norm(x, axis=1) <= 2.0
    np.testing.assert_array_equal(c[small], x[small])
    v = dp.clip_norm(np.array([3.0, 4.0]), 1.0)
    assert np.linalg.norm(v) == pytest.approx(1.0)
    np.testing.assert_array_equal(dp.clip_norm(np.array([0.3, 0.4]), 1.0), [0.3, 0.4])


def test_gaussian_noise_scale() -> None:
    z = dp.gaussian_noise((20000,), 2.5, np.random.default_rng(0))
    assert z.shape == (20000,)
    assert z.std() == pytest.approx(2.5, rel=0.03)
    assert abs(z.mean()) < 0.1
    assert not np.any(dp.gaussian_noise(5, 0.0))
    with pytest.raises(ConfigError):
        dp.gaussian_noise(3, -1.0)
