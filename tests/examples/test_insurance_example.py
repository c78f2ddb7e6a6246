"""The insurer's example runs on a sample and its federated model beats the insurer-only one."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from vfl import SecureBoostClassifier

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "insurance_risk_model.py"


def test_federated_model_beats_insurer_only(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("insurance_risk_model", EXAMPLE)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    result = mod.main(sample=6000, out=tmp_path / "model")
    assert result["test_people"] > 800
    assert result["federated_auc"] > result["insurer_only_auc"] + 0.01
    loaded = SecureBoostClassifier.load(tmp_path / "model")
    assert set(loaded.parts_) == {"insurer", "hospital", "pharma"}
