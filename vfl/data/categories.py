"""Categorical features, encoded at their own party and never sent anywhere.

A :class:`CategoryMap` lists, per categorical column, its categories in code-point order of their
text (so a CSV and a Parquet export of the same data give the same map). The party's table holds
each category column as integer codes (float64, NaN = missing or unseen); that one source gives
both encodings: the codes themselves are tree bins (NaN: the missing bin) and :meth:`onehot`
expands them for linear models (NaN: all zeros). The map is part of the party's model part
(:meth:`to_dict` / :meth:`from_dict`), so predict re-applies the training map and a category
never seen in training goes to the missing bin.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from vfl.core.errors import DataError

__all__ = ["MAX_CATEGORIES", "MAX_CATEGORY_LENGTH", "CategoryMap", "category_text"]

#: more distinct values than this is free text or an identifier, not a category
MAX_CATEGORIES = 256
MAX_CATEGORY_LENGTH = 200


def category_text(values: pd.Series) -> np.ndarray:
    """A column's values as category text (object array, None where missing).

    Whitespace is stripped and text NFC-normalised; whole numbers read as floats (a column with
    gaps) are written without '.0', so '3' in one file and 3.0 in another are one category.
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        inner = values.dtype.categories.dtype
        numeric = pd.api.types.is_numeric_dtype(inner) and not pd.api.types.is_bool_dtype(inner)
        return category_text(values.astype("float64" if numeric else object))
    if pd.api.types.is_bool_dtype(values.dtype):
        s = values.astype("string")
    elif pd.api.types.is_float_dtype(values.dtype):
        v = values.to_numpy(dtype=np.float64, na_value=np.nan)
        whole = np.isfinite(v) & (np.mod(v, 1) == 0) & (np.abs(v) < 2**53)
        s = pd.Series(
            [
                None if np.isnan(x) else (str(int(x)) if w else repr(float(x)))
                for x, w in zip(v, whole, strict=True)
            ],
            dtype="string",
        )
    else:
        s = values.astype("string").str.normalize("NFC").str.strip()
    s = s.mask(s == "")
    return np.asarray([None if pd.isna(x) else str(x) for x in s], dtype=object)


def _codes(cats: Sequence[str], text: np.ndarray) -> np.ndarray:
    index = {c: float(i) for i, c in enumerate(cats)}
    return np.fromiter((np.nan if t is None else index.get(t, np.nan) for t in text), np.float64, len(text))


@dataclass(frozen=True)
class CategoryMap:
    """Per categorical column (by feature name), its categories; code i is ``columns[name][i]``."""

    columns: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    # -- building ----------------------------------------------------------------------------------
    @classmethod
    def fit(cls, text: Mapping[str, np.ndarray]) -> CategoryMap:
        """One column per entry of ``text`` (arrays from :func:`category_text`)."""
        return cls({c: tuple(sorted({t for t in v if t is not None})) for c, v in text.items()})

    def restrict(self, features: np.ndarray, feature_names: Sequence[str], rows: np.ndarray) -> CategoryMap:
        """The map of only the categories that occur in ``rows`` (the training rows), same order."""
        out = {}
        for c, cats in self.columns.items():
            codes = features[rows, list(feature_names).index(c)]
            seen = np.unique(codes[~np.isnan(codes)]).astype(np.int64)
            out[c] = tuple(cats[i] for i in seen)
        return CategoryMap(out)

    # -- reading -----------------------------------------------------------------------------------
    def __contains__(self, column: object) -> bool:
        return column in self.columns

    def __len__(self) -> int:
        return len(self.columns)

    def n_categories(self, column: str) -> int:
        return len(self.columns[column])

    def encode(self, column: str, text: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(codes as float64 with NaN for missing and unseen, mask of the unseen rows)."""
        codes = _codes(self.columns[column], text)
        unseen = np.isnan(codes) & np.fromiter((t is not None for t in text), bool, len(text))
        return codes, unseen

    def onehot(self, features: np.ndarray, feature_names: Sequence[str]) -> tuple[np.ndarray, list[str]]:
        """Numeric columns as they are; each categorical column as one 0/1 column per category
        (named 'col=category'); missing and unseen rows are all zeros."""
        blocks: list[np.ndarray] = []
        names: list[str] = []
        for j, c in enumerate(feature_names):
            col = features[:, j]
            if c not in self.columns:
                blocks.append(col[:, None])
                names.append(c)
                continue
            cats = self.columns[c]
            blocks.append((col[:, None] == np.arange(len(cats))[None, :]).astype(np.float64))
            names.extend(f"{c}={v}" for v in cats)
        if not blocks:
            return np.empty((features.shape[0], 0)), []
        return np.hstack(blocks), names

    # -- model files -------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"columns": {c: list(v) for c, v in self.columns.items()}}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> CategoryMap:
        """Read a stored map back, refusing anything a reader could not have written."""
        if not d:
            return cls()
        cols = d.get("columns") if isinstance(d, Mapping) else None
        if not isinstance(cols, Mapping):
            raise DataError(
                "a model part's category map has no 'columns' table", "use the training run's files"
            )
        out: dict[str, tuple[str, ...]] = {}
        for c, cats in cols.items():
            if not (isinstance(c, str) and isinstance(cats, list) and _valid(cats)):
                raise DataError(
                    f"a model part's category map is malformed at column {c!r}",
                    "use the model files exactly as training wrote them",
                )
            out[c] = tuple(cats)
        return cls(out)


def _valid(cats: Iterable[object]) -> bool:
    cats = list(cats)
    return (
        len(cats) <= MAX_CATEGORIES
        and all(isinstance(v, str) and 0 < len(v) <= MAX_CATEGORY_LENGTH for v in cats)
        and cats == sorted(set(cats))  # type: ignore[type-var]
    )
