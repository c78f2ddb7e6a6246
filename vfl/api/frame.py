"""A vertical data set that scikit-learn can index: every party's frame, one row per person.

``VerticalFrame({"insurer": claims, "hospital": visits, "pharma": scripts}, label_holder="insurer")``
has one row per row of the label holder's frame (its IDs, in its order: ``y`` lines up with them).
Row indexing (``iloc``, ``take``, boolean masks: what ``train_test_split``, ``cross_val_score``,
``GridSearchCV`` and ``Pipeline`` use) selects those IDs at every party at once; a party keeps the
selected IDs it holds, and private set intersection still decides which rows are shared. Each
party's columns stay in its own frame: ``PartyTransformer`` preprocesses each party's columns with
that party's own transformer only.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pandas as pd

from vfl.core.errors import ConfigError, DataError

__all__ = ["VerticalFrame"]


def _indexed(df: Any, name: str, id_column: str | None) -> pd.DataFrame:
    if not isinstance(df, pd.DataFrame):
        raise DataError(
            f"{name}'s data is a {type(df).__name__}, not a pandas DataFrame, so its row IDs are lost",
            "pass DataFrames indexed by ID (in a Pipeline: set_output(transform='pandas'))",
        )
    if id_column and id_column in df.columns:
        df = df.set_index(id_column)
    if not df.index.is_unique:
        dup = df.index[df.index.duplicated()].unique()[:3].tolist()
        raise DataError(f"{name}'s frame repeats IDs such as {dup}", "give every person one row per party")
    return df


class _ILoc:
    def __init__(self, frame: VerticalFrame) -> None:
        self._frame = frame

    def __getitem__(self, key: Any) -> VerticalFrame:
        return self._frame._select(np.arange(len(self._frame))[key])


class _Loc:
    """Boolean masks over the rows (what scikit-learn's ``_safe_indexing`` sends to ``loc``)."""

    def __init__(self, frame: VerticalFrame) -> None:
        self._frame = frame

    def __getitem__(self, key: Any) -> VerticalFrame:
        mask = np.asarray(key)
        if mask.dtype != bool or mask.shape != (len(self._frame),):
            raise TypeError("VerticalFrame.loc takes a boolean mask over its rows; use iloc for positions")
        return self._frame._select(np.flatnonzero(mask))


class VerticalFrame:
    """Every party's DataFrame (indexed by ID, or with ``id_column``), aligned to the label
    holder's rows. ``len()`` and ``shape[0]`` are the label holder's rows; ``shape[1]`` counts
    every party's columns; ``feature_names`` are qualified by party (``hospital:kappa``)."""

    def __init__(
        self, parties: Mapping[str, Any], label_holder: str, *, id_column: str | None = None
    ) -> None:
        if len(parties) < 2:
            raise ConfigError("a VerticalFrame needs two or more parties", "pass {party: DataFrame, ...}")
        if label_holder not in parties:
            raise ConfigError(
                f"label_holder={label_holder!r} is not among the parties {list(parties)}",
                "name the party whose rows the labels describe",
            )
        self.label_holder = label_holder
        self.parties: dict[str, pd.DataFrame] = {n: _indexed(df, n, id_column) for n, df in parties.items()}
        self.ids: pd.Index = self.parties[label_holder].index

    # -- what scikit-learn looks at ---------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.ids)

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.ids), sum(df.shape[1] for df in self.parties.values())

    @property
    def iloc(self) -> _ILoc:
        return _ILoc(self)

    @property
    def loc(self) -> _Loc:
        return _Loc(self)

    def take(self, indices: Any, axis: int = 0) -> VerticalFrame:
        if axis != 0:
            raise TypeError("a VerticalFrame's columns belong to their parties: select rows only")
        return self._select(np.asarray(indices, dtype=np.int64))

    def __getitem__(self, key: Any) -> VerticalFrame:
        return self.iloc[key]

    def __iter__(self) -> Iterator[str]:  # not a sequence of rows: iterating yields party names
        return iter(self.parties)

    @property
    def feature_names(self) -> list[str]:
        return [f"{n}:{c}" for n, df in self.parties.items() for c in df.columns]

    def __repr__(self) -> str:
        held = ", ".join(f"{n} {df.shape[0]}x{df.shape[1]}" for n, df in self.parties.items())
        return f"VerticalFrame({len(self)} rows of {self.label_holder}; {held})"

    # -- selection ---------------------------------------------------------------------------------
    def _select(self, positions: np.ndarray) -> VerticalFrame:
        """The rows at ``positions`` (label-holder order), at every party that holds them."""
        chosen = self.ids[np.asarray(positions, dtype=np.int64)]
        if not chosen.is_unique:
            raise DataError(
                "a VerticalFrame row selection repeats rows (a bootstrap sample?)",
                "PSI aligns people by ID, so each person can appear once: sample without replacement",
            )
        out = object.__new__(VerticalFrame)
        out.label_holder = self.label_holder
        out.parties = {n: df.loc[chosen[chosen.isin(df.index)]] for n, df in self.parties.items()}
        out.ids = out.parties[self.label_holder].index
        return out

    def with_parties(self, parties: Mapping[str, pd.DataFrame]) -> VerticalFrame:
        """The same rows with each party's frame replaced (a preprocessing step's output)."""
        out = object.__new__(VerticalFrame)
        out.label_holder = self.label_holder
        out.parties = {n: _indexed(parties[n], n, None) for n in self.parties}
        out.ids = out.parties[self.label_holder].index
        return out

    def align_labels(self, y: Any) -> np.ndarray:
        """``y`` for the label holder's rows: a pandas Series is aligned by its index (IDs), an
        array is taken in row order; a mismatch names the label holder and the counts."""
        if isinstance(y, pd.Series | pd.DataFrame):
            return align_series(y, self.ids, self.label_holder)
        values = np.asarray(y)
        if len(values) != len(self):
            raise DataError(
                f"y has {len(values)} values for the {len(self)} rows of the label holder "
                f"{self.label_holder}",
                "pass y in the label holder's row order, or as a pandas Series indexed by ID",
            )
        return values


def align_series(y: Any, ids: pd.Index, label_holder: str) -> np.ndarray:
    """A label Series (or one-column frame) indexed by ID, in the order of ``ids``."""
    s = y.iloc[:, 0] if isinstance(y, pd.DataFrame) else y
    if not s.index.is_unique:
        raise DataError("y's index repeats IDs", "give each person one label")
    missing = ids.difference(s.index)
    extra = s.index.difference(ids)
    if len(missing):
        raise DataError(
            f"y has no label for {len(missing)} of the label holder {label_holder}'s {len(ids)} rows "
            f"(e.g. {missing[:3].tolist()}); {len(extra)} of y's IDs are not {label_holder}'s",
            f"index y by the same IDs as {label_holder}'s frame",
        )
    return s.reindex(ids).to_numpy()
