"""ID normalisation: the one rule every party applies before PSI, so 'P-001 ' and 'p-001' match
exactly when the job says they should, and never by accident.

The rule: Unicode NFC (so 'José' typed as one code point or as 'e' + a combining accent is one
ID), then ``strip``, then ``case``. IDs holding control, format or invisible characters (Unicode
categories Cc, Cf, Cs, Zl, Zp, and every space but U+0020) are refused, not cleaned: the same
person would otherwise match or not depending on which tool exported the file.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from vfl.core.errors import ConfigError

__all__ = ["MAX_ID_LENGTH", "IdCheck", "IdRule", "check_ids", "invisible_chars", "normalise_ids"]

MAX_ID_LENGTH = 256
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp", "Zs"})
_SUSPECT = re.compile(r"[^\x21-\x7e ]")  # anything but printable ASCII needs a closer look


@dataclass(frozen=True)
class IdRule:
    """``strip`` surrounding whitespace; ``case`` 'preserve', 'lower' or 'upper'. Part of the job
    file, identical at every party (a mismatch would silently shrink the intersection). NFC
    normalisation is always on: it never merges IDs that a person would tell apart."""

    strip: bool = True
    case: Literal["preserve", "lower", "upper"] = "preserve"

    def __post_init__(self) -> None:
        if self.case not in ("preserve", "lower", "upper"):
            raise ConfigError(f"unknown ID case rule {self.case!r}", "use preserve, lower or upper")

    def describe(self) -> str:
        return f"unicode=NFC, strip={'yes' if self.strip else 'no'}, case={self.case}"


def invisible_chars(text: str) -> list[str]:
    """The refused characters in ``text``, each as 'U+00A0 NO-BREAK SPACE'."""
    found = []
    for ch in text:
        if ch != " " and unicodedata.category(ch) in _REFUSED_CATEGORIES:
            found.append(f"U+{ord(ch):04X} {unicodedata.name(ch, 'control character')}")
    return list(dict.fromkeys(found))


@dataclass(frozen=True)
class IdCheck:
    """Normalised IDs (object array of str) and why some rows cannot be used."""

    ids: np.ndarray
    empty: np.ndarray  # missing, or empty after normalisation
    too_long: np.ndarray
    invisible: np.ndarray
    chars: list[str]  # the refused characters seen, first few

    @property
    def bad(self) -> np.ndarray:
        return self.empty | self.too_long | self.invisible


def check_ids(values: pd.Series, rule: IdRule) -> IdCheck:
    """Apply ``rule`` to raw ID values and find the rows whose IDs cannot be used.

    Numbers read from a file are turned into their plain text (``12`` not ``12.0``).
    """
    s = values.astype("string").str.normalize("NFC")
    if rule.strip:
        s = s.str.strip()
    if rule.case == "lower":
        s = s.str.lower()
    elif rule.case == "upper":
        s = s.str.upper()
    if rule.case != "preserve":
        s = s.str.normalize("NFC")  # case mapping can leave a non-NFC sequence
    missing = s.isna().to_numpy()
    filled = s.fillna("")
    lengths = filled.str.len().to_numpy()
    invisible = np.zeros(len(filled), dtype=bool)
    chars: list[str] = []
    for i in np.flatnonzero(filled.str.contains(_SUSPECT).to_numpy()):
        found = invisible_chars(filled.iloc[i])
        if found:
            invisible[i] = True
            chars.extend(c for c in found if c not in chars)
    return IdCheck(
        ids=filled.to_numpy(dtype=object),
        empty=missing | (lengths == 0),
        too_long=lengths > MAX_ID_LENGTH,
        invisible=invisible,
        chars=chars[:5],
    )


def normalise_ids(values: pd.Series, rule: IdRule) -> tuple[np.ndarray, np.ndarray]:
    """Return (normalised IDs as an object array of str, boolean mask of malformed entries).

    Malformed: missing, empty after normalisation, longer than MAX_ID_LENGTH, or holding control,
    format or invisible characters.
    """
    c = check_ids(values, rule)
    return c.ids, c.bad
