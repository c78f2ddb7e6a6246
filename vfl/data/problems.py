"""Collect every problem a party's file has, then refuse it once.

A user fixing a file should see all its bad columns in one run, not one per run; each problem
names its column, the first offending rows and what to do. Non-fatal findings (dropped columns,
unseen categories) are :class:`DataWarning`\\ s, also naming the file and columns.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from vfl.core.errors import DataError

__all__ = ["EXAMPLES", "DataWarning", "Problem", "Problems", "examples", "warn_data", "where"]

#: how many rows / values an error or warning shows
EXAMPLES = 5


class DataWarning(UserWarning):
    """Something in a party's file was left out or changed on the way in (never silently)."""


def warn_data(message: str) -> None:
    """Emit a :class:`DataWarning` attributed to the first caller outside ``vfl.data`` (the code
    that asked for the file), not to the reader's internals."""
    here = os.path.dirname(os.path.abspath(__file__))
    level, frame = 2, sys._getframe(1)  # stacklevel 2 is our caller
    while frame is not None and os.path.dirname(os.path.abspath(frame.f_code.co_filename)) == here:
        level, frame = level + 1, frame.f_back  # type: ignore[assignment]
    warnings.warn(message, DataWarning, stacklevel=level)


def where(source: str, rows: np.ndarray | Sequence[int]) -> str:
    """Human positions of rows: CSV line numbers (header is line 1) or 0-based frame rows."""
    shown = [int(r) for r in np.asarray(rows)[:EXAMPLES]]
    more = ", ..." if len(rows) > EXAMPLES else ""
    if source.lower().endswith((".csv", ".csv.gz", ".txt", ".txt.gz")):
        return "lines " + ", ".join(str(r + 2) for r in shown) + more
    return "rows " + ", ".join(str(r) for r in shown) + more


def examples(values: Sequence[object]) -> list[str]:
    """The first distinct offending values, as text, for a message."""
    return [str(v) for v in dict.fromkeys(values)][:EXAMPLES]


@dataclass(frozen=True)
class Problem:
    """One reason a column (or the file) cannot be used, and its fix."""

    columns: tuple[str, ...]
    cause: str
    hint: str


@dataclass
class Problems:
    """Every problem found in one file; :meth:`raise_if_any` refuses them all in one DataError."""

    source: str
    items: list[Problem] = field(default_factory=list)

    def add(self, columns: str | Sequence[str] | None, cause: str, hint: str) -> None:
        named = () if columns is None else (columns,) if isinstance(columns, str) else tuple(columns)
        self.items.append(Problem(named, cause, hint))

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self) -> None:
        if not self.items:
            return
        if len(self.items) == 1:
            p = self.items[0]
            raise DataError(f"{self.source}: {p.cause}", p.hint)
        columns = [c for p in self.items for c in p.columns]
        named = f" (columns {', '.join(repr(c) for c in dict.fromkeys(columns))})" if columns else ""
        lines = [f"{self.source}: {len(self.items)} problems{named}:"]
        lines += [f"  - {p.cause}\n      fix: {p.hint}" for p in self.items]
        raise DataError("\n".join(lines), "fix every problem listed, then run again (nothing was written)")
