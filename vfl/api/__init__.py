"""scikit-learn style estimators, Federation (who the peers are)."""

from vfl.api.estimators import SecureBoostClassifier, SecureBoostRegressor, VerticalLogisticRegression
from vfl.api.federation import Federation

__all__ = ["Federation", "SecureBoostClassifier", "SecureBoostRegressor", "VerticalLogisticRegression"]
