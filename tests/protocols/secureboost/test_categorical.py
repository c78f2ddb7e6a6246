"""Text categories in SecureBoost: each category is its own bin at its own party, the party's
category map travels in its model part only, and a category unseen in training is scored in the
missing bin. On the Australian doctor-visits table (six text columns, any visit as the label):
the accuracy equals that of the same table with the categories encoded by hand, as integer
codes (the very same model) and one-hot."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.protocols.secureboost.conftest import fit_predict
from tests.protocols.secureboost.tables import PARTIES, frame, split, three_parties
from vfl.bench.harness import run_parties
from vfl.compute import fit_bins, get_backend
from vfl.core.errors import ConfigError
from vfl.data.problems import DataWarning
from vfl.data.table import PartyTable
from vfl.runtime.models.sbt import SBTParams, SBTPartyModel, fit_sbt_party, predict_sbt_party

TEXT = ("gender", "private", "freepoor", "freerepat", "nchronic", "lchronic")
PARAMS = SBTParams(n_estimators=3, max_depth=3, he="ou", max_bin=16)


def _visits() -> tuple[pd.DataFrame, str]:
    df, label = frame("doctor_visits")
    df[label] = (df[label] > 0).astype(np.float64)
    # interleave text and numeric columns so that every party holds some of each
    cols = [
        "gender",
        "age",
        "private",
        "income",
        "freepoor",
        "illness",
        "freerepat",
        "reduced",
        "nchronic",
        "health",
        "lchronic",
    ]
    return df[["id", *cols, label]], label


def _accuracy(tables: dict[str, PartyTable], tr: np.ndarray, te: np.ndarray) -> tuple[float, Any, np.ndarray]:
    models, proba = fit_predict(tables, PARTIES[0], PARAMS, tr, te)
    y = tables[PARTIES[0]].label
    assert y is not None
    return float(np.mean((proba >= 0.5) == y[te])), models, proba


@pytest.fixture(scope="module")
def trained() -> dict[str, Any]:
    df, label = _visits()
    tr, te = split(len(df), 2000, seed=1)
    tables = three_parties(df, label)
    acc, models, proba = _accuracy(tables, tr, te)
    return {
        "df": df,
        "label": label,
        "tr": tr,
        "te": te,
        "tables": tables,
        "acc": acc,
        "models": models,
        "proba": proba,
    }


def test_text_columns_train_with_each_party_keeping_its_map(trained: dict[str, Any]) -> None:
    for name, model in trained["models"].items():
        own = [c for c in TEXT if c in model.feature_names]
        assert own, f"{name} should hold text columns"
        assert list(model.categories.columns) == own
        assert model.categories.columns[own[0]] in (("female", "male"), ("no", "yes"))
        back = SBTPartyModel.from_dict(json.loads(json.dumps(model.to_dict())))
        assert back.categories == model.categories
    passive = trained["models"][PARTIES[1]]
    assert passive.splits, "the passive's categories win splits"
    assert trained["acc"] > 0.8


def test_accuracy_equals_categories_encoded_by_hand(trained: dict[str, Any]) -> None:
    df, label, tr, te = trained["df"], trained["label"], trained["tr"], trained["te"]
    codes = df.copy()
    for c in TEXT:  # by hand: codes in the categories' text order, as the reader does
        codes[c] = codes[c].map({v: float(i) for i, v in enumerate(sorted(df[c].unique()))})
    acc, _, proba = _accuracy(three_parties(codes, label), tr, te)
    assert acc == trained["acc"]
    np.testing.assert_allclose(proba, trained["proba"], rtol=1e-12)
    onehot = pd.get_dummies(df, columns=list(TEXT), dtype=np.float64)
    acc1, _, _ = _accuracy(three_parties(onehot, label), tr, te)
    assert acc1 == pytest.approx(trained["acc"], abs=0.005)


def test_a_category_unseen_in_training_goes_to_the_missing_bin(trained: dict[str, Any]) -> None:
    df, label, te = trained["df"], trained["label"], trained["te"]
    models = trained["models"]
    holder = next(n for n in PARTIES[1:] if "freepoor" in models[n].feature_names)
    new = df.iloc[te].copy()
    new.loc[new.index[:5], "freepoor"] = "maybe"  # never seen in training
    gone = df.iloc[te].copy()
    gone.loc[gone.index[:5], "freepoor"] = None
    with pytest.warns(DataWarning, match="unseen in training"):
        unseen = _predict(models, three_parties(new.reset_index(drop=True), label))
    missing = _predict(models, three_parties(gone.reset_index(drop=True), label, nan_policy="keep"))
    assert np.isfinite(unseen).all() and holder
    np.testing.assert_allclose(unseen, missing, rtol=1e-12)
    np.testing.assert_allclose(unseen[5:], trained["proba"][5:], rtol=1e-12)


def _predict(models: dict[str, SBTPartyModel], tables: dict[str, PartyTable]) -> np.ndarray:
    out = run_parties(list(tables), lambda ch: predict_sbt_party(ch, models[ch.me], tables[ch.me]))
    return np.asarray(out[PARTIES[0]])


def test_each_category_is_its_own_bin() -> None:
    xp = get_backend("cpu").xp
    x = np.array([[0.0], [2.0], [np.nan], [2.0]])  # code 1 absent from these rows
    m = fit_bins(xp, x, 8, categories=[3])
    np.testing.assert_array_equal(m.transform(xp, x)[:, 0], [0, 2, 8, 2])
    assert m.threshold(0, 0) == 0.5 and m.threshold(0, 2) == np.inf
    with pytest.raises(ConfigError, match="max_bin to at least 9"):
        fit_bins(xp, x, 8, categories=[9])


def test_more_categories_than_bins_is_refused_before_training() -> None:
    df, label = _visits()
    df["gender"] = [f"g{i % 20:02d}" for i in range(len(df))]
    tables = three_parties(df.sample(300, random_state=0).reset_index(drop=True), label)
    with pytest.raises(ConfigError, match="20 categories"):
        run_parties(
            list(tables), lambda ch: fit_sbt_party(ch, tables[ch.me], active=PARTIES[0], params=PARAMS)
        )
