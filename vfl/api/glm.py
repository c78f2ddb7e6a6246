"""The linear family's estimators (``--model glm``): linear, Poisson, Gamma and Tweedie
regression across parties, with LR's HE-protected gradients (CKKS by default) and L-BFGS.

Parameters are the glm model kind's (LR's plus ``objective`` and ``tweedie_variance_power``);
``l2`` unset is scikit-learn's default penalty for the family on standardised features
(LinearRegression: none; PoissonRegressor, GammaRegressor, TweedieRegressor: alpha=1.0)."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import RegressorMixin

from vfl.api.estimators import VerticalLogisticRegression, _VerticalEstimator
from vfl.api.federation import Federation
from vfl.api.params import declare_params

__all__ = [
    "VerticalGammaRegressor",
    "VerticalLinearRegression",
    "VerticalPoissonRegressor",
    "VerticalTweedieRegressor",
]


class _VerticalGLM(RegressorMixin, _VerticalEstimator):
    """Shared predict/score of the GLM regressors."""

    score = _VerticalEstimator.score  # R² on aligned rows only (RegressorMixin's would come first)
    importances_by_party_ = VerticalLogisticRegression.importances_by_party_  # |weight| per feature

    def predict(self, X: Any, federation: Federation | None = None) -> np.ndarray:
        """Predicted values (means exp(X w) for the log-link families); rows not every party
        holds follow ``unaligned`` (error, or NaN)."""
        p = self._scores(X, federation)
        return self._unaligned(p, np.isnan(p))

    def _predict_all(self, X: Any, federation: Federation | None = None) -> np.ndarray:
        return self._scores(X, federation)


@declare_params("glm", objective="reg:squarederror")
class VerticalLinearRegression(_VerticalGLM):
    """Least squares across parties (``l2`` > 0: ridge, Ridge(alpha = l2 * n_samples))."""


@declare_params("glm", objective="count:poisson")
class VerticalPoissonRegressor(_VerticalGLM):
    """Poisson regression with the log link (claim counts, visits)."""


@declare_params("glm", objective="reg:gamma")
class VerticalGammaRegressor(_VerticalGLM):
    """Gamma regression with the log link (positive costs, severities)."""


@declare_params("glm", objective="reg:tweedie")
class VerticalTweedieRegressor(_VerticalGLM):
    """Tweedie regression with the log link, ``tweedie_variance_power`` in (1, 2) (pure
    premiums: many zeros, positive amounts)."""
