"""LR on the embedded three-party default (PSI first, CKKS, every default): within 0.005 test AUC
of scikit-learn's LogisticRegression on the same aligned rows and split.

Paillier-2048 at this scale is tested on default_credit's 30,000 rows in test_accuracy.py (one
zpaillier run of that size is enough for the suite; each costs CI's two cores most of a minute)."""

from __future__ import annotations

import json
from pathlib import Path


def test_embedded_default_matches_sklearn(default_simulation: tuple[Path, str]) -> None:
    out, _ = default_simulation
    s = json.loads((out / "summary.json").read_text())
    assert s["model"] == "lr" and s["he"] == "ckks"
    assert s["intersection"] > 20_000
    assert s["metrics"]["test_auc"] >= s["baseline"]["test_auc"] - 0.005, (s["metrics"], s["baseline"])
