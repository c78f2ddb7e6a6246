"""LR on the embedded three-party default (PSI first): within 0.005 test AUC of scikit-learn's
LogisticRegression on the same aligned rows and split, with CKKS and with Paillier-2048."""

from __future__ import annotations

from pathlib import Path

import pytest

from vfl.runtime.modes.config import build_simulation_config
from vfl.runtime.modes.simulate import simulate


@pytest.mark.parametrize("he", ["ckks", "zpaillier"])
def test_embedded_default_matches_sklearn(he: str, tmp_path: Path) -> None:
    cfg = build_simulation_config((), None, None, model="lr", he=he, out_dir=tmp_path)
    s = simulate(cfg)
    assert s["intersection"] > 20_000
    assert s["metrics"]["test_auc"] >= s["baseline"]["test_auc"] - 0.005, (s["metrics"], s["baseline"])
