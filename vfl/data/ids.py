"""ID normalisation: the one rule every party applies before PSI, so 'P-001 ' and 'p-001' match
exactly when the job says they should, and never by accident."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from vfl.core.errors import ConfigError

__all__ = ["MAX_ID_LENGTH", "IdRule", "normalise_ids"]

MAX_ID_LENGTH = 256
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class IdRule:
    """``strip`` surrounding whitespace; ``case`` 'preserve', 'lower' or 'upper'. Part of the job
    file, identical at every party (a mismatch would silently shrink the intersection)."""

    strip: bool = True
    case: Literal["preserve", "lower", "upper"] = "preserve"

    def __post_init__(self) -> None:
        if self.case not in ("preserve", "lower", "upper"):
            raise ConfigError(f"unknown ID case rule {self.case!r}", "use preserve, lower or upper")

    def describe(self) -> str:
        return f"strip={'yes' if self.strip else 'no'}, case={self.case}"


def normalise_ids(values: pd.Series, rule: IdRule) -> tuple[np.ndarray, np.ndarray]:
    """Return (normalised IDs as an object array of str, boolean mask of malformed entries).

    Malformed: missing, empty after normalisation, longer than MAX_ID_LENGTH, or holding control
    characters. Numbers read from a file are turned into their plain text (``12`` not ``12.0``).
    """
    s = values.astype("string")
    if rule.strip:
        s = s.str.strip()
    if rule.case == "lower":
        s = s.str.lower()
    elif rule.case == "upper":
        s = s.str.upper()
    missing = s.isna().to_numpy()
    filled = s.fillna("")
    bad = (
        missing
        | (filled.str.len() == 0).to_numpy()
        | (filled.str.len() > MAX_ID_LENGTH).to_numpy()
        | filled.str.contains(_CONTROL).to_numpy()
    )
    return filled.to_numpy(dtype=object), bad
