"""LR on the embedded three-party default (PSI first): within 0.005 test AUC of scikit-learn's
LogisticRegression on the same aligned rows and split, with CKKS and with Paillier-2048."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from vfl.runtime.modes.config import build_simulation_config
from vfl.runtime.modes.simulate import simulate

#: zpaillier encrypts every row once per round: L-BFGS's ~12 full-batch rounds cost this test
#: minutes on CI's two cores, so it runs the mini-batch schedule that was the default before
#: (L-BFGS on a Paillier-family backend is tested on small tables with OU, test_real_tables.py)
OLD_MINIBATCH = {"solver": "adam", "epochs": 4, "batch_size": 2048, "learning_rate": 0.1, "l2": 0.0}


@pytest.mark.parametrize(("he", "params"), [("ckks", {}), ("zpaillier", OLD_MINIBATCH)])
def test_embedded_default_matches_sklearn(he: str, params: dict[str, Any], tmp_path: Path) -> None:
    cfg = build_simulation_config((), None, None, model="lr", he=he, out_dir=tmp_path, model_params=params)
    s = simulate(cfg)
    assert s["intersection"] > 20_000
    assert s["metrics"]["test_auc"] >= s["baseline"]["test_auc"] - 0.005, (s["metrics"], s["baseline"])
