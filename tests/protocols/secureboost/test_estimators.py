"""The estimators for every task: SecureBoostRegressor on diabetes (squared error and Gamma), and
SecureBoostClassifier with three text-labelled classes (num_class inferred from y)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.protocols.secureboost.tables import frame, split
from vfl.api import SecureBoostClassifier, SecureBoostRegressor


def _frames(df: pd.DataFrame, label: str) -> tuple[dict[str, pd.DataFrame], np.ndarray]:
    x = df.set_index("id").drop(columns=[label])
    cols = np.array_split(np.array(x.columns), 3)
    return {n: x[list(c)] for n, c in zip(("insurer", "hospital", "pharma"), cols, strict=True)}, df[
        label
    ].to_numpy()


def _rows(frames: dict[str, pd.DataFrame], rows: np.ndarray) -> dict[str, pd.DataFrame]:
    return {n: f.iloc[rows] for n, f in frames.items()}


@pytest.mark.parametrize("objective", ["reg:squarederror", "reg:gamma"])
def test_regressor_fits_and_predicts_diabetes(objective: str, tmp_path: Path) -> None:
    df, label = frame("diabetes")
    frames, y = _frames(df, label)
    tr, te = split(len(df))
    est = SecureBoostRegressor(objective=objective, n_estimators=5, max_depth=3, he="ou")
    est.fit(_rows(frames, tr), y[tr])
    pred = est.predict(_rows(frames, te))
    assert pred.shape == (len(te),) and np.isfinite(pred).all()
    if objective == "reg:gamma":
        assert (pred > 0).all()
    base = float(np.sqrt(np.mean((y[te] - y[tr].mean()) ** 2)))
    rmse = float(np.sqrt(np.mean((y[te] - pred) ** 2)))
    assert rmse < 0.85 * base  # clearly better than the mean
    assert est.score(_rows(frames, te), y[te]) > 0.25  # R^2
    est.save(tmp_path / "m")
    again = SecureBoostRegressor.load(tmp_path / "m")
    np.testing.assert_allclose(again.predict(_rows(frames, te)), pred)


def test_classifier_learns_three_text_classes() -> None:
    df, label = frame("vehicle_scale")
    df = df[df[label] < 3].reset_index(drop=True)
    frames, y = _frames(df, label)
    names = np.array(["bus", "saab", "van"])[y.astype(int)]  # text labels, three classes
    tr, te = split(len(df))
    est = SecureBoostClassifier(objective="multi:softprob", n_estimators=3, max_depth=3, he="ou")
    est.fit(_rows(frames, tr), names[tr])
    assert list(est.classes_) == ["bus", "saab", "van"]
    part = est.parts_[est.active_].part
    assert part.params["num_class"] == 3 and len(part.trees) == 9
    proba = est.predict_proba(_rows(frames, te))
    assert proba.shape == (len(te), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    pred = est.predict(_rows(frames, te))
    assert set(pred) <= set(est.classes_)
    assert np.mean(pred == names[te]) > 0.6  # two of the classes are hard to tell apart; chance: 1/3
    np.testing.assert_array_equal(pred, est.classes_[proba.argmax(axis=1)])


def test_binary_objective_still_refuses_three_classes() -> None:
    from vfl.core.errors import DataError

    df, label = frame("vehicle_scale")
    frames, y = _frames(df.iloc[:60], label)
    with pytest.raises(DataError, match="multi:softmax"):
        SecureBoostClassifier(n_estimators=1).fit(frames, y)
