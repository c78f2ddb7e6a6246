"""Linear models one-hot a party's text columns at that party (issue 16): equal to the same
table one-hot by hand, the category map in the part, an unseen category scored as all zeros."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

from vfl import VerticalFrame, VerticalLogisticRegression


@pytest.fixture(scope="module")
def frames() -> tuple[dict[str, pd.DataFrame], pd.Series]:
    raw = load_breast_cancer(as_frame=True)
    x, y = raw.data, raw.target
    x.index = y.index = pd.Index([f"P{i:04d}" for i in range(len(x))], name="pid")
    grade = pd.cut(x["mean texture"], [0, 16, 20, 24, 99], labels=["I", "II", "III", "IV"]).astype(str)
    hospital = x.iloc[:, 10:20].copy()
    hospital["grade"] = grade  # a text column at the hospital
    return {"insurer": x.iloc[:, :10], "hospital": hospital, "pharma": x.iloc[:, 20:]}, y


def test_text_columns_are_one_hot_like_by_hand(frames) -> None:  # type: ignore[no-untyped-def]
    parts, y = frames
    est = VerticalLogisticRegression(he="ou", random_state=0)
    auto = est.fit(VerticalFrame(parts, label_holder="insurer"), y)
    hospital = parts["hospital"]
    by_hand = pd.get_dummies(hospital["grade"], prefix="grade", prefix_sep="=", dtype=float)
    hand_parts = {**parts, "hospital": pd.concat([hospital.drop(columns="grade"), by_hand], axis=1)}
    hand = VerticalLogisticRegression(he="ou", random_state=0).fit(
        VerticalFrame(hand_parts, label_holder="insurer"), y
    )
    p_auto = auto.predict_proba(VerticalFrame(parts, label_holder="insurer"))[:, 1]
    p_hand = hand.predict_proba(VerticalFrame(hand_parts, label_holder="insurer"))[:, 1]
    np.testing.assert_allclose(p_auto, p_hand, atol=1e-6)
    part = auto.parts_["hospital"].part
    assert list(part.categories.columns["grade"]) == ["I", "II", "III", "IV"]
    assert part.columns[-4:] == ["grade=I", "grade=II", "grade=III", "grade=IV"]
    assert set(auto.importances_by_party_["hospital"]) == set(hospital.columns)


def test_an_unseen_category_is_scored_as_all_zeros(frames) -> None:  # type: ignore[no-untyped-def]
    parts, y = frames
    est = VerticalLogisticRegression(he="ou", random_state=0).fit(
        VerticalFrame(parts, label_holder="insurer"), y
    )
    new = {n: df.iloc[:20] for n, df in parts.items()}
    odd = new["hospital"].copy()
    odd["grade"] = "V"  # never seen in training
    with pytest.warns(UserWarning, match="unseen|not seen|categor"):
        p = est.predict_proba(VerticalFrame({**new, "hospital": odd}, label_holder="insurer"))[:, 1]
    assert np.isfinite(p).all() and not np.allclose(
        p, est.predict_proba(VerticalFrame(new, label_holder="insurer"))[:, 1]
    )
