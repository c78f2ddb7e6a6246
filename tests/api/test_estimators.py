"""The estimators behave like scikit-learn's, match the centralised model, and their model files
survive a new process and refuse corrupted, truncated or mismatched parts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from tests.conftest import FATE_DATA
from vfl import SecureBoostClassifier, SecureBoostRegressor, VerticalLogisticRegression
from vfl.core.errors import ConfigError, DataError


@pytest.fixture(scope="module")
def breast() -> tuple[dict[str, pd.DataFrame], pd.Series, dict[str, pd.DataFrame], pd.Series]:
    g = pd.read_csv(FATE_DATA / "breast_hetero_guest.csv.gz").set_index("id")
    h = pd.read_csv(FATE_DATA / "breast_hetero_host.csv.gz").set_index("id").loc[g.index]
    y = g.pop("y")
    test = g.index[::4]
    train = g.index.difference(test)
    parts = {
        "insurer": g,
        "hospital": h[[f"x{i}" for i in range(10)]],
        "pharma": h[[f"x{i}" for i in range(10, 20)]],
    }
    return (
        {n: df.loc[train] for n, df in parts.items()},
        y.loc[train],
        {n: df.loc[test] for n, df in parts.items()},
        y.loc[test],
    )


@pytest.mark.parametrize("cls", [VerticalLogisticRegression, SecureBoostClassifier, SecureBoostRegressor])
def test_estimator_contract(cls: type) -> None:
    est = cls(he="ou", random_state=3)
    assert clone(est).get_params() == est.get_params()
    est.set_params(random_state=5)
    assert est.get_params()["random_state"] == 5
    assert not [k for k in vars(est) if k.endswith("_")], "__init__ must only store parameters"
    with pytest.raises(NotFittedError):
        est.predict({"a": pd.DataFrame(), "b": pd.DataFrame()})


def test_an_unknown_executor_stops_the_fit_before_any_party_starts(breast) -> None:  # type: ignore[no-untyped-def]
    x_tr, y_tr, _, _ = breast
    with pytest.raises(ConfigError, match="unknown executor 'spark'"):
        SecureBoostClassifier(executor="spark").fit(x_tr, y_tr)


def test_secureboost_estimators_pass_every_tree_parameter_to_the_job() -> None:
    from vfl.runtime.models.registry import make_params

    est = SecureBoostClassifier(max_leaves=4, dp_clip=2.0, subsample=0.5)
    params = make_params("sbt", est.he, est.random_state, est._model_params())
    assert (params.max_leaves, params.dp_clip, params.subsample) == (4, 2.0, 0.5)
    assert params.objective == "binary:logistic"


def test_lr_fit_returns_self_and_matches_sklearn(breast) -> None:  # type: ignore[no-untyped-def]
    x_tr, y_tr, x_te, y_te = breast
    est = VerticalLogisticRegression(he="ou", epochs=3, batch_size=32, learning_rate=0.05, random_state=0)
    assert est.fit(x_tr, y_tr) is est
    assert list(est.classes_) == [0, 1] and est.n_features_in_ == 30  # the federation's total (issue 17)
    p = est.predict_proba(x_te)[:, 1]
    central = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    pooled = {
        k: pd.concat([df.add_prefix(n) for n, df in v.items()], axis=1)
        for k, v in (("tr", x_tr), ("te", x_te))
    }
    central.fit(pooled["tr"], y_tr)
    auc_c = roc_auc_score(y_te, central.predict_proba(pooled["te"])[:, 1])
    assert roc_auc_score(y_te, p) >= auc_c - 0.01
    assert est.score(x_te, y_te) > 0.9
    assert set(est.importances_by_party_) == {"insurer", "hospital", "pharma"}
    assert est.feature_importances_.shape == (30,)  # aligned with feature_names_in_ (issue 17)


def test_rows_not_held_by_everyone_get_nan(breast) -> None:  # type: ignore[no-untyped-def]
    x_tr, y_tr, x_te, _ = breast
    est = SecureBoostClassifier(n_estimators=2, random_state=0).fit(x_tr, y_tr)
    partial = dict(x_te)
    partial["pharma"] = x_te["pharma"].iloc[5:]
    p = est.predict_proba(partial)[:, 1]
    assert np.isnan(p[:5]).all() and not np.isnan(p[5:]).any()
    with pytest.raises(DataError, match="5 rows are not held by every party"):
        est.predict(partial)


def test_save_load_in_a_new_process_gives_identical_probabilities(breast, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    x_tr, y_tr, x_te, _ = breast
    est = SecureBoostClassifier(n_estimators=3, random_state=0).fit(x_tr, y_tr)
    est.save(tmp_path / "m")
    p = est.predict_proba(x_te)[:, 1]
    for n, df in x_te.items():
        df.to_csv(tmp_path / f"{n}.csv")
    code = (
        "import sys, json, pandas as pd; from vfl import SecureBoostClassifier as C; "
        f"m = C.load({str(tmp_path / 'm')!r}); "
        f"X = {{n: pd.read_csv({str(tmp_path)!r} + '/' + n + '.csv', index_col=0) for n in {list(x_te)!r}}}; "
        "print(json.dumps(m.predict_proba(X)[:, 1].tolist()))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    np.testing.assert_array_equal(np.array(json.loads(out.stdout.strip().splitlines()[-1])), p)


def test_corrupted_truncated_and_mismatched_parts_are_refused(breast, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    x_tr, y_tr, _, _ = breast
    a = SecureBoostClassifier(n_estimators=2, random_state=0).fit(x_tr, y_tr).save(tmp_path / "a")
    b = SecureBoostClassifier(n_estimators=2, random_state=1).fit(x_tr, y_tr).save(tmp_path / "b")
    hosp = a / "hospital" / "model.json"
    original = hosp.read_text()

    hosp.write_text(original[: len(original) // 2])  # truncated
    with pytest.raises(DataError, match="not a complete model file") as e:
        SecureBoostClassifier.load(a)
    assert "truncated" in e.value.hint

    doc = json.loads(original)
    split = next(iter(doc["part"]["splits"].values()))
    split["threshold"] = "1.5"  # a threshold moved by hand
    hosp.write_text(json.dumps(doc))
    with pytest.raises(DataError, match="does not match its fingerprint"):
        SecureBoostClassifier.load(a)

    hosp.write_text((b / "hospital" / "model.json").read_text())  # another model's part
    with pytest.raises(DataError, match="mismatched parts"):
        SecureBoostClassifier.load(a)


def test_works_in_a_pipeline_with_local_preprocessing(breast) -> None:  # type: ignore[no-untyped-def]
    """The insurer's own preprocessing runs on its frame only; IDs survive as the index."""
    x_tr, y_tr, x_te, y_te = breast
    scaler = StandardScaler().set_output(transform="pandas")
    est = VerticalLogisticRegression(he="ou", epochs=2, batch_size=32, learning_rate=0.05)
    ins = scaler.fit_transform(x_tr["insurer"])
    est.fit({**x_tr, "insurer": ins}, y_tr)
    p = est.predict_proba({**x_te, "insurer": scaler.transform(x_te["insurer"])})[:, 1]
    assert roc_auc_score(y_te, p) > 0.95


def test_fit_resumes_from_its_checkpoints(breast, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """fit(resume=True) picks up its own checkpoints (here every tree is already there) and gives
    the same model; checkpoints written with other parameters are refused. The mid-job SIGKILL
    case is tests/runtime/test_resume.py."""
    x_tr, y_tr, x_te, _ = breast
    full = SecureBoostClassifier(n_estimators=3, random_state=0).fit(
        x_tr, y_tr, checkpoint_dir=tmp_path / "a"
    )
    SecureBoostClassifier(n_estimators=2, random_state=0).fit(x_tr, y_tr, checkpoint_dir=tmp_path / "b")
    with pytest.raises(DataError):  # other parameters: the checkpoints are refused, not misused
        SecureBoostClassifier(n_estimators=3, random_state=0).fit(
            x_tr, y_tr, checkpoint_dir=tmp_path / "b", resume=True
        )
    again = SecureBoostClassifier(n_estimators=3, random_state=0).fit(
        x_tr, y_tr, checkpoint_dir=tmp_path / "a", resume=True
    )
    assert again.fit_stats_["insurer"].get("resumed_from_tree") == 3
    np.testing.assert_array_equal(again.predict_proba(x_te), full.predict_proba(x_te))
