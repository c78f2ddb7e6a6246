"""One party's validated data: IDs, a float feature matrix and, at the active party, the label."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from vfl.core.errors import DataError
from vfl.data.categories import CategoryMap, category_text
from vfl.data.problems import examples, warn_data

__all__ = ["PartyTable"]


@dataclass
class PartyTable:
    """Rows in file order until :meth:`take` aligns them to the PSI order.

    ``ids`` is an object array of normalised ID strings; ``features`` is float64 (n, f). A column
    named in ``categories`` holds category codes 0..k-1 (tree bins; :meth:`onehot` for linear
    models); NaN appears in such a column for a missing or unseen category, and in a numeric
    column only where the party asked for missing values to be kept (SecureBoost routes them).
    ``label`` is set only at the party that holds it. ``offset`` (label holder only, optional):
    each row's offset on the model's margin scale, xgboost's ``base_margin``; for the log-link
    objectives (Poisson, Gamma, Tweedie) the column holds log(exposure), not the exposure. It is
    neither a feature nor ever sent.
    """

    name: str
    ids: np.ndarray
    features: np.ndarray
    feature_names: list[str]
    label: np.ndarray | None = None
    label_name: str | None = None
    source: str = ""
    meta: dict[str, object] = field(default_factory=dict)
    categories: CategoryMap = field(default_factory=CategoryMap)
    offset: np.ndarray | None = None
    offset_name: str | None = None

    def __post_init__(self) -> None:
        n = len(self.ids)
        assert self.features.shape == (n, len(self.feature_names)), "features/ids mismatch"
        assert self.label is None or len(self.label) == n, "label/ids mismatch"
        assert self.offset is None or self.offset.shape == (n,), "offset/ids mismatch"
        assert all(c in self.feature_names for c in self.categories.columns), "categories/features mismatch"

    @property
    def n_rows(self) -> int:
        return len(self.ids)

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    @property
    def has_label(self) -> bool:
        return self.label is not None

    @property
    def categorical(self) -> np.ndarray:
        """Boolean mask over ``feature_names``: which columns hold category codes."""
        return np.array([c in self.categories for c in self.feature_names], dtype=bool)

    def take(self, rows: np.ndarray) -> PartyTable:
        """The same table restricted to ``rows`` in that order (used after PSI alignment)."""
        return replace(
            self,
            ids=self.ids[rows],
            features=self.features[rows],
            feature_names=list(self.feature_names),
            label=None if self.label is None else self.label[rows],
            offset=None if self.offset is None else self.offset[rows],
            meta=dict(self.meta),
        )

    def onehot(self) -> tuple[np.ndarray, list[str]]:
        """The features for a linear model: category columns one-hot (missing/unseen: zeros)."""
        return self.categories.onehot(self.features, self.feature_names)

    def fit_categories(self, rows: np.ndarray) -> PartyTable:
        """Keep only the categories seen in ``rows`` (the training rows); the others become
        missing in every row, counted in ``meta['unseen_categories']``."""
        return self._recoded(self.categories.restrict(self.features, self.feature_names, rows), warn=False)

    def apply_categories(self, categories: CategoryMap) -> PartyTable:
        """Encode with a trained map (from a model part). Categories it lacks go to the missing
        bin, with a warning that counts them; a column that is categorical on one side only is
        refused."""
        extra = [c for c in self.categories.columns if c not in categories]
        if extra:
            raise DataError(
                f"{self.source}: columns {extra} hold text here but were numeric when the model was trained",
                "give the columns the model was trained with, in the same form",
            )
        return self._recoded(categories, warn=True)

    def _recoded(self, categories: CategoryMap, *, warn: bool) -> PartyTable:
        x = self.features.copy()
        unseen: dict[str, int] = {}
        for c in categories.columns:
            if c not in self.feature_names:
                continue
            j = self.feature_names.index(c)
            if c in self.categories:
                previous = self.categories.columns[c]
                text = np.asarray([None if np.isnan(v) else previous[int(v)] for v in x[:, j]], dtype=object)
            else:  # read as numbers here (e.g. a file whose rows hold only numeric codes)
                text = category_text(pd.Series(x[:, j]))
            x[:, j], mask = categories.encode(c, text)
            if mask.any():
                unseen[c] = int(mask.sum())
                if warn:
                    warn_data(
                        f"{self.source}: column {c!r}: {unseen[c]} rows hold categories unseen in training "
                        f"(e.g. {examples(text[mask])}); they are treated as missing"
                    )
        kept = CategoryMap({c: v for c, v in categories.columns.items() if c in self.feature_names})
        meta = dict(self.meta)
        meta["unseen_categories"] = unseen
        return replace(self, features=x, categories=kept, meta=meta)
