"""Label checks: a label a model cannot learn from is refused before any party starts work.

A single-valued label (all 0, all 1) trains a model that predicts one constant; SecureBoost then
fails inside xgboost's baseline and LR divides by a zero class count, after PSI has been paid
for. The reader checks the whole file; the runtime checks the training rows with
:func:`check_label` once the split is known.
"""

from __future__ import annotations

import numpy as np

from vfl.data.problems import Problems

__all__ = ["check_label", "label_counts"]


def label_counts(y: np.ndarray) -> str:
    """'0: 412 rows, 1: 157 rows' (the first few distinct values)."""
    values, counts = np.unique(y[~np.isnan(y)], return_counts=True)
    shown = [f"{_fmt(v)}: {int(n)} rows" for v, n in zip(values[:5], counts[:5], strict=True)]
    return ", ".join(shown) + (", ..." if len(values) > 5 else "")


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def check_label(
    y: np.ndarray, *, source: str, column: str, rows: str = "rows", problems: Problems | None = None
) -> None:
    """Refuse a label with fewer than two distinct values (``rows``: which rows were checked,
    e.g. 'training rows'). With ``problems``, the refusal joins the file's other problems."""
    own = problems if problems is not None else Problems(source)
    finite = y[~np.isnan(y)]
    if len(finite) == 0:
        own.add(column, f"label column {column!r} has no values in the {rows}", "check the label column")
    elif np.unique(finite).size < 2:
        own.add(
            column,
            f"label column {column!r} has a single value in all {len(finite)} {rows} ({label_counts(y)}): "
            "there is nothing to learn",
            "give rows of both classes (for a binary task, both 0 and 1), or check that the right column "
            "and rows were chosen",
        )
    if problems is None:
        own.raise_if_any()
