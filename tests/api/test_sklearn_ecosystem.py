"""The estimators inside scikit-learn's ecosystem (issue 17): a VerticalFrame that train_test_split,
cross_val_score, GridSearchCV and Pipeline index unchanged, per-party preprocessing, labels aligned
by ID, declared policies for rows some party lacks, and the estimator check suite."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import check_estimator

from vfl import (
    Federation,
    PartyTransformer,
    SecureBoostClassifier,
    SecureBoostRegressor,
    VerticalFrame,
    VerticalLogisticRegression,
)
from vfl.core.errors import DataError
from vfl.data.datasets import fate_frames
from vfl.data.readers import table_from_frame
from vfl.runtime.job.run import run_party_job
from vfl.runtime.job.spec import JobSpec
from vfl.runtime.store.modelfile import ModelFile
from vfl.transport.memory import MemoryHub

FAST = {"n_estimators": 2, "max_depth": 2, "he": "ou", "random_state": 0}


@pytest.fixture(scope="module")
def breast() -> tuple[dict[str, pd.DataFrame], pd.Series]:
    """Raw breast (569 rows) as insurer (label + 10), hospital (10) and pharma (10, 3 % missing)."""
    g, h = fate_frames("breast")
    g, h = g.set_index("id"), h.set_index("id")
    y = g.pop("y")
    frames = {
        "insurer": g,
        "hospital": h.iloc[:, :10] * 100 + 7,  # unscaled on purpose: the party scales its own
        "pharma": h.iloc[:, 10:].sample(frac=0.97, random_state=1),
    }
    return frames, y


@pytest.fixture(scope="module")
def small(breast: Any) -> tuple[dict[str, pd.DataFrame], pd.Series]:
    """240 of the patients: for the searches, which fit many models."""
    frames, y = breast
    keep = frames["insurer"].index[:240]
    return {n: df[df.index.isin(keep)] for n, df in frames.items()}, y.loc[keep]


def _vf(frames: dict[str, pd.DataFrame]) -> VerticalFrame:
    return VerticalFrame(frames, label_holder="insurer")


def test_a_vertical_frame_is_indexed_at_every_party_at_once(breast: Any) -> None:
    frames, _ = breast
    vf = _vf(frames)
    assert len(vf) == 569 and vf.shape == (569, 30)
    assert vf.feature_names[:2] == ["insurer:x0", "insurer:x1"]
    part = vf.iloc[[5, 1, 3]]
    assert list(part.ids) == [vf.ids[5], vf.ids[1], vf.ids[3]]
    for name, df in part.parties.items():
        assert set(df.index) <= set(part.ids) and set(df.index) == set(part.ids) & set(frames[name].index)
    assert list(vf.loc[np.arange(569) < 4].ids) == list(vf.ids[:4])
    with pytest.raises(DataError, match="repeats rows"):
        vf.take([1, 1])


def test_train_test_split_gives_the_hand_made_split(breast: Any) -> None:
    frames, y = breast
    vf_tr, vf_te, y_tr, _ = train_test_split(_vf(frames), y, test_size=0.25, random_state=0)
    ids_tr, ids_te = train_test_split(frames["insurer"].index, test_size=0.25, random_state=0)
    assert list(vf_tr.ids) == list(ids_tr) and list(vf_te.ids) == list(ids_te)
    auto = SecureBoostClassifier(**FAST).fit(vf_tr, y_tr).predict_proba(vf_te)
    hand_frames = {n: df[df.index.isin(ids_tr)] for n, df in frames.items()}
    hand_test = {n: df.loc[ids_te[ids_te.isin(df.index)]] for n, df in frames.items()}  # the split's order
    hand = SecureBoostClassifier(**FAST).fit(hand_frames, y.loc[ids_tr]).predict_proba(hand_test)
    np.testing.assert_allclose(auto, hand)


def test_a_shuffled_label_series_gives_the_same_model(breast: Any) -> None:
    frames, y = breast
    ordered = SecureBoostClassifier(**FAST).fit(_vf(frames), y)  # OU is exact
    shuffled = SecureBoostClassifier(**FAST).fit(_vf(frames), y.sample(frac=1.0, random_state=3))
    p = ordered.predict_proba(_vf(frames))
    np.testing.assert_allclose(p, shuffled.predict_proba(_vf(frames)), rtol=1e-12)
    positional = SecureBoostClassifier(**FAST).fit(_vf(frames), y.sample(frac=1.0, random_state=3).to_numpy())
    assert not np.allclose(p, positional.predict_proba(_vf(frames)), equal_nan=True), "an array is positional"
    with pytest.raises(DataError, match="label holder insurer"):
        SecureBoostClassifier(**FAST).fit(_vf(frames), y.iloc[10:])


def test_pipeline_preprocesses_each_party_alone_like_by_hand(breast: Any) -> None:
    frames, y = breast
    pipe = Pipeline(
        [("prep", PartyTransformer({"hospital": StandardScaler()})), ("model", SecureBoostClassifier(**FAST))]
    )
    auto = pipe.fit(_vf(frames), y).predict_proba(_vf(frames))
    scaled = StandardScaler().set_output(transform="pandas").fit_transform(frames["hospital"])
    hand = (
        SecureBoostClassifier(**FAST)
        .fit({**frames, "hospital": scaled}, y)
        .predict_proba({**frames, "hospital": scaled})
    )
    np.testing.assert_allclose(auto, hand)
    prep = pipe.named_steps["prep"].transformers_["hospital"]
    assert prep.n_features_in_ == 10, "the hospital's scaler saw the hospital's columns only"


def _by_hand_cv(frames: dict[str, pd.DataFrame], y: pd.Series, est: Any, cv: KFold) -> list[float]:
    ids = frames["insurer"].index
    out = []
    for tr, te in cv.split(ids):
        f_tr = {n: df[df.index.isin(ids[tr])] for n, df in frames.items()}
        f_te = {n: df[df.index.isin(ids[te])] for n, df in frames.items()}
        model = est.fit(f_tr, y.loc[ids[tr]])
        p = model.predict_proba(f_te)[:, 1]
        ok = ~np.isnan(p)
        p = np.where(p >= 0.5, 1, 0)
        out.append(accuracy_score(y.loc[ids[te]].to_numpy()[ok], p[ok].astype(int)))
    return out


def test_cross_val_score_equals_the_hand_written_loop(small: Any) -> None:
    frames, y = small
    cv = KFold(2, shuffle=True, random_state=0)
    scores = cross_val_score(SecureBoostClassifier(**FAST), _vf(frames), y, cv=cv)
    np.testing.assert_allclose(scores, _by_hand_cv(frames, y, SecureBoostClassifier(**FAST), cv))
    assert np.all(scores > 0.8)


def test_grid_search_over_two_parameters_equals_the_hand_written_search(small: Any) -> None:
    frames, y = small
    cv = KFold(2, shuffle=True, random_state=0)
    # two points that differ in both parameters: every fit costs a key pair, so not the full 2 x 2
    grid = [{"n_estimators": [1], "max_depth": [1]}, {"n_estimators": [2], "max_depth": [3]}]
    search = GridSearchCV(SecureBoostClassifier(he="ou", random_state=0), grid, cv=cv).fit(_vf(frames), y)
    points = [(g["n_estimators"][0], g["max_depth"][0]) for g in grid]
    hand = {
        (n, d): np.mean(
            _by_hand_cv(
                frames, y, SecureBoostClassifier(he="ou", random_state=0, n_estimators=n, max_depth=d), cv
            )
        )
        for n, d in points
    }
    for params, mean in zip(search.cv_results_["params"], search.cv_results_["mean_test_score"], strict=True):
        assert mean == pytest.approx(hand[(params["n_estimators"], params["max_depth"])])
    best = max(hand, key=lambda k: hand[k])
    assert hand[(search.best_params_["n_estimators"], search.best_params_["max_depth"])] == hand[best]


def test_rows_some_party_lacks_follow_the_declared_policy(breast: Any) -> None:
    frames, y = breast
    model = SecureBoostClassifier(**FAST, unaligned="nan").fit(_vf(frames), y)
    lacking = ~frames["insurer"].index.isin(frames["pharma"].index)
    p = model.predict(_vf(frames))
    assert np.isnan(p[lacking]).all() and not np.isnan(p[~lacking]).any()
    score = model.score(_vf(frames), y)
    assert model.score_rows_skipped_ == int(lacking.sum()) == 17
    assert score == pytest.approx(accuracy_score(y[~lacking], p[~lacking].astype(int)))
    model.set_params(unaligned="error")
    with pytest.raises(DataError, match=r"17 rows are not held by every party \(of 569\)"):
        model.predict(_vf(frames))


def test_fitted_attributes_follow_scikit_learn(breast: Any) -> None:
    frames, y = breast
    model = SecureBoostClassifier(**FAST).fit(_vf(frames), y)
    assert model.n_features_in_ == 30 == len(model.feature_names_in_)
    assert model.feature_names_in_[10] == "hospital:x0"
    imp = model.feature_importances_
    assert imp.shape == (30,) and imp.sum() == pytest.approx(1.0) and (imp >= 0).all()
    tags = model.__sklearn_tags__()
    assert tags.input_tags.dict and not tags.input_tags.two_d_array
    assert issubclass(DataError, ValueError)


def _in_memory_federation(frames: dict[str, pd.DataFrame], y: pd.Series, me: str) -> Federation:
    """The label holder's Federation over an in-memory hub (transport injection): each job the
    label holder opens, its peers answer in threads, keeping their own parts for predict jobs.
    Like a serving party (``vfl serve`` runs one job at a time), a peer finishes its last job,
    keeping its part, before it takes the next: the label holder's job ends at the commit, which
    can be before its peers have kept theirs."""
    tables = {
        n: table_from_frame(df.rename_axis("id").reset_index(), name=n) for n, df in frames.items() if n != me
    }
    parts: dict[str, Any] = {}
    running: list[threading.Thread] = []

    def connect(spec: JobSpec) -> Any:
        hub = MemoryHub(list(spec.order), spec.job_id, timeout=120)

        def peer(name: str) -> None:
            model = parts.get((name, spec.model_job_id)) if spec.task == "predict" else None
            try:
                out = run_party_job(spec, tables[name], hub.channel(name), model_file=model)
            except Exception as exc:  # the peer's failure reaches the label holder at once
                hub.mark_dead(name, str(exc))
                return
            if out.model is not None:
                parts[(name, spec.job_id)] = ModelFile(
                    name, spec.job_id, spec.model, out.model, dict(out.parts)
                )

        for thread in running:
            thread.join(120)
        running[:] = [threading.Thread(target=peer, args=(n,), daemon=True) for n in spec.order if n != me]
        for thread in running:
            thread.start()
        return hub.channel(me)

    return Federation(me, [n for n in frames if n != me], connect=connect)


def test_federation_mode_cross_val_score_gives_real_numbers(small: Any) -> None:
    frames, y = small
    fed = _in_memory_federation(frames, y, "insurer")
    cv = KFold(2, shuffle=True, random_state=0)
    scores = cross_val_score(
        SecureBoostClassifier(**FAST), frames["insurer"], y, cv=cv, params={"federation": fed}
    )
    assert np.isfinite(scores).all() and (scores > 0.8).all()
    np.testing.assert_allclose(scores, _by_hand_cv(frames, y, SecureBoostClassifier(**FAST), cv))


#: scikit-learn's checks that fit on one plain array: a vertical estimator takes its parties'
#: frames (a VerticalFrame or {party: DataFrame}); one array has no parties, so each of these
#: stops at that refusal (a ValueError naming what to pass).
SINGLE_ARRAY_CHECKS = (
    "check_class_weight_classifiers check_classifier_data_not_an_array check_classifiers_classes "
    "check_classifiers_one_label check_classifiers_regression_target check_classifiers_train "
    "check_complex_data check_dict_unchanged check_dont_overwrite_parameters check_dtype_object "
    "check_estimator_sparse_array check_estimator_sparse_matrix check_estimator_sparse_tag "
    "check_estimators_dtypes check_estimators_empty_data_messages check_estimators_fit_returns_self "
    "check_estimators_nan_inf check_estimators_overwrite_params check_estimators_pickle "
    "check_f_contiguous_array_estimator check_fit2d_1feature check_fit2d_1sample check_fit2d_predict1d "
    "check_fit_check_is_fitted check_fit_idempotent check_fit_score_takes_y "
    "check_methods_sample_order_invariance check_methods_subset_invariance check_n_features_in "
    "check_n_features_in_after_fitting check_non_transformer_estimators_n_iter check_pipeline_consistency "
    "check_positive_only_tag_during_fit check_readonly_memmap_input check_requires_y_none "
    "check_supervised_y_2d check_regressors_train check_regressor_data_not_an_array "
    "check_regressors_int check_regressors_no_decision_function check_regressor_multioutput "
    "check_sample_weights_not_an_array check_sample_weights_list check_sample_weights_shape "
    "check_sample_weights_not_overwritten check_sample_weights_invariance check_sample_weight_equivalence"
).split()
REASON = "fits on one plain array: a vertical estimator takes a VerticalFrame or {party: DataFrame}"


@pytest.mark.parametrize("cls", [VerticalLogisticRegression, SecureBoostClassifier, SecureBoostRegressor])
def test_the_estimator_check_suite_passes_or_is_declared(cls: type) -> None:
    class OnArrays(cls):  # type: ignore[misc, valid-type]
        """The same estimator, tagged as taking arrays, so that scikit-learn runs every check
        (with its true tags it skips them all)."""

        def __sklearn_tags__(self) -> Any:
            tags = super().__sklearn_tags__()
            tags.input_tags.two_d_array = True
            return tags

    OnArrays.__name__ = cls.__name__
    results = check_estimator(
        OnArrays(),
        expected_failed_checks=dict.fromkeys(SINGLE_ARRAY_CHECKS, REASON),
        on_fail=None,
        on_skip=None,
    )
    failed = [r["check_name"] for r in results if r["status"] == "failed"]
    passed = [r["check_name"] for r in results if r["status"] == "passed"]
    assert not failed, failed
    assert {
        "check_no_attributes_set_in_init",
        "check_get_params_invariance",
        "check_set_params",
        "check_parameters_default_constructible",
        "check_estimators_unfitted",
    } <= set(passed)
