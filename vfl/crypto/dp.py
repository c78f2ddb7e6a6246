"""Differential privacy building blocks shared by the LR and SecureBoost protocols.

Noise and clipping are plain numpy; the privacy budget comes from Google's ``dp_accounting``
(RDP accountant for the Poisson-subsampled Gaussian mechanism), never from a formula of our own.
Shuffled fixed-size mini-batches are accounted as Poisson sampling with rate ``batch / rows``,
the usual approximation of DP-SGD implementations (documented in protocols/specs/lr.md).
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from vfl.core.errors import ConfigError

if TYPE_CHECKING:
    from dp_accounting import dp_event

__all__ = [
    "MAX_NOISE_MULTIPLIER",
    "DPAccountant",
    "calibrate_noise",
    "clip_norm",
    "clip_rows",
    "gaussian_noise",
    "secure_rng",
]

#: Above this noise multiplier the gradient is noise; refusing is kinder than training garbage.
MAX_NOISE_MULTIPLIER = 50.0


def secure_rng() -> np.random.Generator:
    """A generator seeded from the OS CSPRNG (each call independent)."""
    return np.random.default_rng(secrets.randbits(128))


def gaussian_noise(
    shape: int | tuple[int, ...], sigma: float, rng: np.random.Generator | None = None
) -> np.ndarray:
    """N(0, sigma^2) noise of ``shape``; ``sigma`` is the absolute standard deviation."""
    if sigma < 0 or not math.isfinite(sigma):
        raise ConfigError(f"noise standard deviation {sigma} is invalid", "use a finite sigma >= 0")
    rng = rng or secure_rng()
    return rng.normal(0.0, sigma, size=shape) if sigma > 0 else np.zeros(shape)


def clip_norm(v: np.ndarray, max_norm: float) -> np.ndarray:
    """Scale ``v`` down so that its L2 norm is at most ``max_norm``."""
    norm = float(np.linalg.norm(v))
    return v * (max_norm / norm) if norm > max_norm else v.copy()


def clip_rows(x: np.ndarray, max_norm: float) -> np.ndarray:
    """Scale each row of ``x`` down to L2 norm <= ``max_norm`` (bounds one row's influence)."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    scale = np.minimum(1.0, max_norm / np.maximum(norms, 1e-300))
    return x * scale


@dataclass(frozen=True)
class DPAccountant:
    """(epsilon, delta) of ``steps`` Poisson-subsampled Gaussian steps, by RDP accounting."""

    noise_multiplier: float
    sample_rate: float
    steps: int
    delta: float

    def __post_init__(self) -> None:
        _check_schedule(self.delta, self.sample_rate, self.steps)
        if not self.noise_multiplier > 0:
            raise ConfigError(f"noise multiplier {self.noise_multiplier} gives no privacy", "use a value > 0")

    def epsilon(self) -> float:
        # imported here: a job without DP (most) does not wait 0.14 s for dp_accounting and scipy
        from dp_accounting.rdp import rdp_privacy_accountant

        acc = rdp_privacy_accountant.RdpAccountant()
        acc.compose(_event(self.noise_multiplier, self.sample_rate), self.steps)
        return float(acc.get_epsilon(self.delta))


def calibrate_noise(
    epsilon: float,
    delta: float,
    sample_rate: float,
    steps: int,
    *,
    max_noise_multiplier: float = MAX_NOISE_MULTIPLIER,
) -> float:
    """Smallest noise multiplier (to 0.1 %) whose accounted epsilon is <= ``epsilon``.

    Raises ConfigError when even ``max_noise_multiplier`` cannot meet the budget.
    """
    if not epsilon > 0 or not math.isfinite(epsilon):
        raise ConfigError(f"dp epsilon {epsilon} is invalid", "use a finite epsilon > 0, e.g. 8")
    _check_schedule(delta, sample_rate, steps)

    def eps(sigma: float) -> float:
        return DPAccountant(sigma, sample_rate, steps, delta).epsilon()

    if eps(max_noise_multiplier) > epsilon:
        raise ConfigError(
            f"epsilon={epsilon} cannot be met by {steps} steps at sampling rate "
            f"{sample_rate:.4g} (even noise multiplier {max_noise_multiplier} gives "
            f"epsilon={eps(max_noise_multiplier):.3g})",
            "raise dp_epsilon, train fewer epochs, or use smaller batches",
        )
    lo, hi = 1e-3, max_noise_multiplier
    if eps(lo) <= epsilon:
        return lo
    while hi / lo > 1.001:
        mid = math.sqrt(lo * hi)
        lo, hi = (lo, mid) if eps(mid) <= epsilon else (mid, hi)
    return hi


def _event(noise_multiplier: float, sample_rate: float) -> dp_event.DpEvent:
    from dp_accounting import dp_event

    gauss = dp_event.GaussianDpEvent(noise_multiplier)
    return gauss if sample_rate >= 1.0 else dp_event.PoissonSampledDpEvent(sample_rate, gauss)


def _check_schedule(delta: float, sample_rate: float, steps: int) -> None:
    if not 0 < delta < 1:
        raise ConfigError(f"dp delta {delta} is not in (0, 1)", "use e.g. 1e-5 (below 1/rows)")
    if not 0 < sample_rate <= 1:
        raise ConfigError(f"sampling rate {sample_rate} is not in (0, 1]", "check the batch size")
    if steps < 1:
        raise ConfigError(f"{steps} training steps cannot be accounted", "train at least one step")
