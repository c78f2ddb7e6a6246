"""The linear family's estimators (``--model glm``): linear, Poisson, Gamma and Tweedie
regression across parties, with LR's HE-protected gradients (CKKS by default) and L-BFGS.

Parameters are the glm model kind's (LR's plus ``objective`` and ``tweedie_variance_power``);
``l2`` unset is scikit-learn's default penalty for the family on standardised features
(LinearRegression: none; PoissonRegressor, GammaRegressor, TweedieRegressor: alpha=1.0)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import numpy as np
from sklearn.base import RegressorMixin

from vfl.api.estimators import VerticalLogisticRegression, _VerticalEstimator
from vfl.api.federation import Federation
from vfl.api.params import declare_params
from vfl.core.errors import DataError
from vfl.data.table import PartyTable
from vfl.runtime.store.modelfile import ModelFile

__all__ = [
    "VerticalGammaRegressor",
    "VerticalLinearRegression",
    "VerticalPoissonRegressor",
    "VerticalTweedieRegressor",
]


class _VerticalGLM(RegressorMixin, _VerticalEstimator):
    """Shared fit/predict/score of the GLM regressors. ``exposure`` (fit and predict, the
    log-link families): the label holder's exposure per row (policy years, holders), a pandas
    Series indexed by ID or an array in the label holder's row order; its log is the offset,
    which stays at the label holder (protocols/specs/glm.md). Predictions with an exposure are
    expected counts or amounts; without one, per unit of exposure."""

    score = _VerticalEstimator.score  # R² on aligned rows only (RegressorMixin's would come first)
    importances_by_party_ = VerticalLogisticRegression.importances_by_party_  # |weight| per feature
    _exposure: Any = None  # set for the duration of one fit or predict call

    def fit(self, X: Any, y: Any = None, *, exposure: Any = None, **kwargs: Any) -> _VerticalGLM:
        with self._exposed(exposure):
            super().fit(X, y, **kwargs)
        return self

    def predict(self, X: Any, federation: Federation | None = None, *, exposure: Any = None) -> np.ndarray:
        """Predicted values (means exp(X w) for the log-link families, times ``exposure`` if
        given); rows not every party holds follow ``unaligned`` (error, or NaN)."""
        with self._exposed(exposure):
            p = self._scores(X, federation)
        return self._unaligned(p, np.isnan(p))

    @contextmanager
    def _exposed(self, exposure: Any) -> Iterator[None]:
        self._exposure = exposure
        try:
            yield
        finally:
            self._exposure = None

    def _table(self, name: str, df: Any, y: Any = None, part: ModelFile | None = None) -> PartyTable:
        table = super()._table(name, df, y, part)
        holder = y is not None or name == getattr(self, "active_", None)
        if self._exposure is None or not holder:
            return table
        e = np.asarray(self._labels(self._exposure, df, name), dtype=np.float64)
        if e.shape != (table.n_rows,) or not (np.all(np.isfinite(e)) and np.all(e > 0)):
            raise DataError(
                f"exposure needs one positive number per row of {name} ({table.n_rows} rows)",
                "pass the exposure as a Series indexed by ID, or in the label holder's row order",
            )
        return replace(table, offset=np.log(e), offset_name="log_exposure")

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
