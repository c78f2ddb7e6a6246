"""The families the LR protocol trains (protocols/specs/glm.md): what changes between logistic
regression and the other generalised linear models is only the active's arithmetic on its own
joint scores, so a family is four functions of the linear predictor z at the active.

Each loss is scikit-learn's half loss (``sklearn._loss``: HalfBinomialLoss, HalfSquaredError,
HalfPoissonLoss, HalfGammaLoss, HalfTweedieLoss with the log link) with its constant terms, i.e.
half the unit deviance, so that ``d1`` (the loss's derivative in z) is the residual the active
encrypts: ``mu - y`` for the canonical links (logistic, identity, Poisson's log), ``1 - y / mu``
for Gamma and ``mu^(1-p) (mu - y)`` for Tweedie. Passives never see which family runs: they
receive the same encrypted residual vector in every case.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import xlogy

from vfl.compute.objectives import check_labels as check_objective_labels
from vfl.compute.objectives import check_tweedie_power
from vfl.core.errors import ConfigError
from vfl.protocols.lr.rounds import check_labels

__all__ = ["GLM_OBJECTIVES", "LOGISTIC", "Family", "family_of"]

#: the objectives of ``--model glm`` (xgboost's names, as SecureBoost's)
GLM_OBJECTIVES = ("binary:logistic", "reg:squarederror", "count:poisson", "reg:gamma", "reg:tweedie")
_LOG_LINK = ("count:poisson", "reg:gamma", "reg:tweedie")
_MAX_EXP = 700.0  # exp() of more overflows float64: a line search trying a huge step sees inf


def _exp(z: np.ndarray) -> np.ndarray:
    return np.exp(np.minimum(z, _MAX_EXP))


@dataclass(frozen=True)
class Family:
    """One objective's link and loss, evaluated at the active on the joint scores ``z``."""

    objective: str = "binary:logistic"
    power: float = 1.5  # reg:tweedie's variance power, in (1, 2)

    def __post_init__(self) -> None:
        if self.objective not in GLM_OBJECTIVES:
            raise ConfigError(
                f"glm objective {self.objective!r} is not supported",
                f"use one of {', '.join(GLM_OBJECTIVES)}",
            )
        if self.objective == "reg:tweedie":
            check_tweedie_power(self.power)

    @property
    def logistic(self) -> bool:
        return self.objective == "binary:logistic"

    def mean(self, z: np.ndarray) -> np.ndarray:
        """The inverse link: P(y=1), the value, or the mean exp(z)."""
        if self.logistic:
            return 0.5 * (1.0 + np.tanh(0.5 * z))
        if self.objective in _LOG_LINK:
            return _exp(z)
        return z

    def loss(self, z: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The per-row half deviance (0 at a perfect fit), so that the relative-change stopping
        rule sees the part of the loss that training can reduce (a Gamma loss without its
        constant -log y - 1 is dominated by log mu, and would stop too early)."""
        o, p = self.objective, self.power
        if o == "binary:logistic":
            return np.logaddexp(0.0, z) - y * z
        if o == "reg:squarederror":
            return 0.5 * (z - y) ** 2
        if o == "count:poisson":
            return _exp(z) - y * z + xlogy(y, y) - y
        if o == "reg:gamma":
            return z + y * _exp(-z) - np.log(y) - 1.0
        tail = np.maximum(y, 0.0) ** (2 - p) / ((1 - p) * (2 - p))
        return _exp((2 - p) * z) / (2 - p) - y * _exp((1 - p) * z) / (1 - p) + tail

    def d1(self, z: np.ndarray, y: np.ndarray) -> np.ndarray:
        """d loss / dz: the residual the active encrypts (before weights and 1/n)."""
        o, p = self.objective, self.power
        if o == "binary:logistic":
            return self.mean(z) - y
        if o == "reg:squarederror":
            return z - y
        if o == "count:poisson":
            return _exp(z) - y
        if o == "reg:gamma":
            return 1.0 - y * _exp(-z)
        return _exp((2 - p) * z) - y * _exp((1 - p) * z)

    def d2(self, z: np.ndarray, y: np.ndarray) -> np.ndarray:
        """d^2 loss / dz^2 (>= 0: every loss here is convex in z), for the line search's Newton steps."""
        o, p = self.objective, self.power
        if o == "binary:logistic":
            mu = self.mean(z)
            return mu * (1.0 - mu)
        if o == "reg:squarederror":
            return np.ones_like(z)
        if o == "count:poisson":
            return _exp(z)
        if o == "reg:gamma":
            return y * _exp(-z)
        return (2 - p) * _exp((2 - p) * z) - (1 - p) * y * _exp((1 - p) * z)

    def check(self, y: np.ndarray) -> np.ndarray:
        """The label as float64, refused (before any crypto) where the family cannot learn it."""
        if self.logistic:
            return check_labels(y)
        y = np.asarray(y, dtype=np.float64)
        check_objective_labels(self.objective, y, None)
        if not np.all(np.isfinite(y)):
            raise ConfigError("the label has infinite values", "check the label column")
        return y

    def start(self, y: np.ndarray, offset: np.ndarray | None) -> float:
        """The intercept training starts from: 0 for logistic (as LR always has), else the best
        constant given the offset (scikit-learn also starts from the link of the mean)."""
        if self.logistic:
            return 0.0
        off = np.zeros_like(y) if offset is None else offset
        if self.objective == "reg:squarederror":
            return float(np.mean(y - off))
        return math.log(float(np.sum(y)) / float(np.sum(np.exp(off))))

    def default_l2(self, n_train: int) -> float:
        """The penalty on the mean loss that equals scikit-learn's default on standardised
        features: LogisticRegression(C=1) is 1/n; LinearRegression none; PoissonRegressor,
        GammaRegressor and TweedieRegressor alpha=1 (their objective is the mean half deviance
        plus alpha/2 ||w||^2, as here)."""
        if self.logistic:
            return 1.0 / max(n_train, 1)
        return 0.0 if self.objective == "reg:squarederror" else 1.0


LOGISTIC = Family()


def family_of(params: object) -> Family:
    """The family of a job's parameters (LR's have no objective: logistic)."""
    return Family(
        str(getattr(params, "objective", "binary:logistic")),
        float(getattr(params, "tweedie_variance_power", 1.5)),
    )
