"""scikit-learn style estimators, the vertical data container, per-party preprocessing, and
Federation (who the peers are)."""

from vfl.api.estimators import SecureBoostClassifier, SecureBoostRegressor, VerticalLogisticRegression
from vfl.api.federation import Federation
from vfl.api.frame import VerticalFrame
from vfl.api.glm import (
    VerticalGammaRegressor,
    VerticalLinearRegression,
    VerticalPoissonRegressor,
    VerticalTweedieRegressor,
)
from vfl.api.preprocess import PartyTransformer

__all__ = [
    "Federation",
    "PartyTransformer",
    "SecureBoostClassifier",
    "SecureBoostRegressor",
    "VerticalFrame",
    "VerticalGammaRegressor",
    "VerticalLinearRegression",
    "VerticalLogisticRegression",
    "VerticalPoissonRegressor",
    "VerticalTweedieRegressor",
]
