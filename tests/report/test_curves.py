from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from vfl.core.errors import DataError
from vfl.report.curves import MAX_POINTS, roc_curves, roc_points


def _scores(n: int, seed: int = 0, decimals: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    p = 1 / (1 + np.exp(-(1.2 * y + rng.normal(size=n))))
    return y, (np.round(p, decimals) if decimals is not None else p)


@pytest.mark.parametrize("decimals", [None, 2])
def test_auc_matches_sklearn_and_curve_is_bounded(decimals: int | None) -> None:
    y, p = _scores(5000, decimals=decimals)
    r = roc_points(y, p)
    assert r["auc"] == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert 2 <= len(r["fpr"]) == len(r["tpr"]) <= MAX_POINTS
    assert (r["fpr"][0], r["tpr"][0]) == (0.0, 0.0)
    assert (r["fpr"][-1], r["tpr"][-1]) == (1.0, 1.0)
    assert np.all(np.diff(r["fpr"]) >= 0) and np.all(np.diff(r["tpr"]) >= 0)


def test_downsampled_curve_keeps_its_shape() -> None:
    y, p = _scores(20000, seed=1)
    r = roc_points(y, p, max_points=60)
    fpr, tpr = np.asarray(r["fpr"]), np.asarray(r["tpr"])
    area = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1])) / 2)
    assert len(fpr) <= 60
    assert area == pytest.approx(r["auc"], abs=0.005)


def test_small_inputs_keep_every_vertex() -> None:
    r = roc_points([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    assert r["fpr"] == [0.0, 0.0, 0.5, 0.5, 1.0]
    assert r["tpr"] == [0.0, 0.5, 0.5, 1.0, 1.0]
    assert r["auc"] == pytest.approx(0.75)


def test_layout_for_summary() -> None:
    y, p = _scores(300)
    curves = roc_curves(y, {"model": p, "baseline": p[::-1]})
    assert set(curves) == {"model", "baseline"}
    assert set(curves["model"]) == {"fpr", "tpr", "auc", "split"} and curves["model"]["split"] == "test"


@pytest.mark.parametrize(
    ("y", "p", "words"),
    [
        ([1, 1, 1], [0.1, 0.2, 0.3], "labels 0 and 1"),
        ([0, 1, 2], [0.1, 0.2, 0.3], "labels 0 and 1"),
        ([0, 1], [0.1], "2 labels but 1 scores"),
        ([0, 1], [0.1, float("nan")], "NaN"),
    ],
)
def test_bad_input_is_refused_with_a_next_step(y: list[int], p: list[float], words: str) -> None:
    with pytest.raises(DataError) as err:
        roc_points(y, p)
    assert words in str(err.value) and err.value.hint
