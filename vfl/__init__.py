"""vfl: vertical federated learning for organisations that hold different columns about the same
people. Private ID alignment (multi-party ECDH PSI), HE-protected logistic regression and
SecureBoost, over in-memory or mutually authenticated gRPC transports."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from vfl.api import Federation, SecureBoostClassifier, SecureBoostRegressor, VerticalLogisticRegression

try:
    __version__ = version("vfl")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

__all__ = [
    "Federation",
    "SecureBoostClassifier",
    "SecureBoostRegressor",
    "VerticalLogisticRegression",
    "__version__",
]
