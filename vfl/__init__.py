"""vfl: vertical federated learning for organisations that hold different columns about the same
people. Private ID alignment (multi-party ECDH PSI), HE-protected logistic regression and
SecureBoost, over in-memory or mutually authenticated gRPC transports.

The estimators load on first use (PEP 562), so ``import vfl.compute`` or a CLI command that needs
no crypto never pulls in tenseal, heu or gRPC.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vfl.api import (
        Federation,
        PartyTransformer,
        SecureBoostClassifier,
        SecureBoostRegressor,
        VerticalFrame,
        VerticalGammaRegressor,
        VerticalLinearRegression,
        VerticalLogisticRegression,
        VerticalPoissonRegressor,
        VerticalTweedieRegressor,
    )

try:
    __version__ = version("vfl")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

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
    "__version__",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        import vfl.api

        return getattr(vfl.api, name)
    raise AttributeError(f"module 'vfl' has no attribute {name!r}")
