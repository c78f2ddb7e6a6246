"""One raw column to float64: numbers checked for finiteness and size, text and pandas categories
as category text, anything else refused. Every refusal joins the file's :class:`Problems`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from vfl.data.categories import MAX_CATEGORIES, MAX_CATEGORY_LENGTH, category_text
from vfl.data.problems import Problems, examples, where

__all__ = ["MAX_ABS", "Column", "check_magnitude", "read_column", "read_numbers"]

#: beyond this, float64 sums of squares overflow or lose every digit of smaller features
MAX_ABS = 1e15
#: a text column where at least this share of the filled cells are numbers is a typo, not a category
_MOSTLY_NUMERIC = 0.5


@dataclass(frozen=True)
class Column:
    """A feature read from the file: float values, or category text (codes come from the map)."""

    name: str
    values: np.ndarray | None  # float64 for a numeric column
    text: np.ndarray | None  # object array (None = missing) for a categorical column

    @property
    def missing(self) -> np.ndarray:
        if self.values is not None:
            return np.isnan(self.values)
        assert self.text is not None
        return np.fromiter((t is None for t in self.text), bool, len(self.text))


def check_magnitude(x: np.ndarray, name: str, what: str, problems: Problems) -> None:
    """Refuse inf and values beyond ±MAX_ABS, naming the rows and values."""
    big = ~np.isnan(x) & ~(np.abs(x) <= MAX_ABS)
    if big.any():
        rows = np.flatnonzero(big)
        problems.add(
            name,
            f"{what} {name!r} has {len(rows)} values that are infinite or beyond ±{MAX_ABS:.0e} "
            f"(e.g. {examples(x[rows].tolist())}; {where(problems.source, rows)})",
            "write them as finite numbers in a sensible unit (rescale the column), or leave the cells empty",
        )


def read_numbers(raw: pd.Series, name: str, what: str, problems: Problems) -> np.ndarray | None:
    """A column that must be numeric (a label; a column trained as numeric): values or None."""
    if pd.api.types.is_bool_dtype(raw.dtype) or _is_number_dtype(raw):
        x = raw.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        conv = pd.to_numeric(raw, errors="coerce")
        bad = conv.isna().to_numpy() & _filled(raw)
        if bad.any():
            rows = np.flatnonzero(bad)
            problems.add(
                name,
                f"{what} {name!r} is not numeric: {len(rows)} values such as "
                f"{examples(raw.iloc[rows].tolist())} ({where(problems.source, rows)})",
                "write numbers only (a binary label as 0/1), or leave those cells empty",
            )
            return None
        x = conv.to_numpy(dtype=np.float64, na_value=np.nan)
    check_magnitude(x, name, what, problems)
    return x


def read_column(raw: pd.Series, name: str, problems: Problems, *, categorical: bool = False) -> Column | None:
    """A feature column, classified: numbers, or categories (text, pandas ``category``, bool, or
    ``categorical`` forced by a trained map). None when refused (the reason is in ``problems``)."""
    if categorical or isinstance(raw.dtype, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(raw.dtype):
        return _categories(raw, name, problems)
    if _is_number_dtype(raw):
        return _numbers(raw.to_numpy(dtype=np.float64, na_value=np.nan), name, problems)
    if not (pd.api.types.is_string_dtype(raw.dtype) or pd.api.types.is_object_dtype(raw.dtype)):
        problems.add(
            name,
            f"column {name!r} has type {raw.dtype}, which vfl cannot use as a feature",
            "convert it to numbers (e.g. days since a date) or text categories, or leave it out",
        )
        return None
    conv = pd.to_numeric(raw, errors="coerce")
    filled = _filled(raw)
    parsed = conv.notna().to_numpy()
    if not (filled & ~parsed).any():
        return _numbers(conv.to_numpy(dtype=np.float64, na_value=np.nan), name, problems)
    if parsed.sum() >= _MOSTLY_NUMERIC * filled.sum():
        rows = np.flatnonzero(filled & ~parsed)
        problems.add(
            name,
            f"column {name!r} is not numeric: {len(rows)} values such as {examples(raw.iloc[rows].tolist())} "
            f"({where(problems.source, rows)}) among {int(parsed.sum())} numbers",
            "fix those cells (or leave them empty if they mark missing values); a category column "
            "should hold text labels, not mostly numbers",
        )
        return None
    return _categories(raw, name, problems)


def _is_number_dtype(raw: pd.Series) -> bool:
    return bool(pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype))


def _filled(raw: pd.Series) -> np.ndarray:
    """Cells holding something (not NaN, not blank text)."""
    text = raw.astype("string").str.strip()
    return (text.notna() & (text != "")).to_numpy(dtype=bool, na_value=False)


def _numbers(x: np.ndarray, name: str, problems: Problems) -> Column:
    check_magnitude(x, name, "column", problems)
    return Column(name, x, None)


def _categories(raw: pd.Series, name: str, problems: Problems) -> Column | None:
    text = category_text(raw)
    distinct = {t for t in text if t is not None}
    if len(distinct) > MAX_CATEGORIES:
        problems.add(
            name,
            f"column {name!r} is text with {len(distinct)} distinct values (more than {MAX_CATEGORIES}), "
            f"such as {examples(sorted(distinct))}: free text or an identifier, not a category",
            f"leave it out, or group its values into at most {MAX_CATEGORIES} categories",
        )
        return None
    long = np.fromiter((t is not None and len(t) > MAX_CATEGORY_LENGTH for t in text), bool, len(text))
    if long.any():
        rows = np.flatnonzero(long)
        problems.add(
            name,
            f"column {name!r} has {len(rows)} category values longer than {MAX_CATEGORY_LENGTH} characters "
            f"({where(problems.source, rows)})",
            "shorten the category labels, or leave the column out",
        )
        return None
    return Column(name, None, text)
