"""Per-party preprocessing inside a federation: each party's own scikit-learn transformer, fitted
and applied on that party's columns only, so a Pipeline can scale, impute or encode every party's
features without any column leaving its party."""

from __future__ import annotations

from typing import Any

import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.utils.validation import check_is_fitted

from vfl.api.frame import VerticalFrame
from vfl.core.errors import ConfigError

__all__ = ["PartyTransformer"]


def _as_frame(out: Any, like: pd.DataFrame, transformer: Any, party: str) -> pd.DataFrame:
    if isinstance(out, pd.DataFrame):
        out.index = like.index  # set_output keeps the IDs; a transformer that resets them is corrected
        return out
    names = (
        transformer.get_feature_names_out()
        if hasattr(transformer, "get_feature_names_out")
        else [f"{party}_{i}" for i in range(out.shape[1])]
    )
    return pd.DataFrame(out, index=like.index, columns=[str(n) for n in names])


class PartyTransformer(TransformerMixin, BaseEstimator):
    """``PartyTransformer({"hospital": StandardScaler(), "pharma": SimpleImputer()})`` on a
    :class:`VerticalFrame`: each named party's transformer is fitted on, and transforms, that
    party's frame only (parties not named pass through). Only the label holder's transformer sees
    ``y`` (a supervised encoder there is fine; a passive never gets the labels)."""

    def __init__(self, transformers: dict[str, Any] | None = None) -> None:
        self.transformers = transformers

    def fit(self, X: VerticalFrame, y: Any = None) -> PartyTransformer:
        if not isinstance(X, VerticalFrame):
            raise ConfigError("PartyTransformer works on a VerticalFrame", "wrap the parties' frames first")
        unknown = sorted(set(self.transformers or {}) - set(X.parties))
        if unknown:
            raise ConfigError(
                f"no party named {', '.join(unknown)} in the frame", f"parties: {list(X.parties)}"
            )
        self.transformers_ = {}
        for name, transformer in (self.transformers or {}).items():
            fitted = clone(transformer)
            if hasattr(fitted, "set_output"):
                fitted.set_output(transform="pandas")
            labels = X.align_labels(y) if (y is not None and name == X.label_holder) else None
            fitted.fit(X.parties[name], labels)
            self.transformers_[name] = fitted
        return self

    def transform(self, X: VerticalFrame) -> VerticalFrame:
        check_is_fitted(self, "transformers_")
        frames = {
            n: _as_frame(self.transformers_[n].transform(df), df, self.transformers_[n], n)
            if n in self.transformers_
            else df
            for n, df in X.parties.items()
        }
        return X.with_parties(frames)
