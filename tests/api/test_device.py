"""The estimators' ``device`` parameter: a scikit-learn parameter like any other, checked before
any party starts, and passed to this process's parties only (never to the agreed job)."""

from __future__ import annotations

import pandas as pd
import pytest
from sklearn.base import clone

from tests.conftest import FATE_DATA
from vfl import SecureBoostClassifier, SecureBoostRegressor, VerticalLogisticRegression
from vfl.core.errors import ConfigError

ESTIMATORS = [VerticalLogisticRegression, SecureBoostClassifier, SecureBoostRegressor]


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_device_is_a_parameter(cls: type) -> None:
    assert cls().get_params()["device"] == "cpu"
    est = cls(device="auto")
    assert est.get_params()["device"] == "auto" and clone(est).device == "auto"
    assert est.set_params(device="torch").device == "torch"


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_an_unknown_device_is_refused_before_any_party_starts(cls: type) -> None:
    frames = {"a": pd.DataFrame({"x": [1.0, 2.0]}), "b": pd.DataFrame({"z": [3.0, 4.0]})}
    with pytest.raises(ConfigError) as err:
        cls(device="tpu").fit(frames, [0, 1])
    assert "tpu" in str(err.value) and "use one of" in err.value.hint and "cpu" in err.value.hint


def test_lr_device_reaches_every_party_but_not_the_job() -> None:
    pytest.importorskip("torch")
    g = pd.read_csv(FATE_DATA / "breast_hetero_guest.csv.gz").set_index("id")
    h = pd.read_csv(FATE_DATA / "breast_hetero_host.csv.gz").set_index("id")
    y = g.pop("y")
    est = VerticalLogisticRegression(he="ou", epochs=1, batch_size=64, device="torch")
    est.fit({"insurer": g, "hospital": h}, y)
    assert {n: p.part.fit_stats["device"] for n, p in est.parts_.items()} == {
        "insurer": "torch-cpu",
        "hospital": "torch-cpu",
    }
    assert all("device" not in p.part.params for p in est.parts_.values())
    assert "device" not in est._model_params()  # not among the agreed (handshake) parameters
    assert est.score({"insurer": g, "hospital": h}, y) > 0.9  # (equality with cpu: tests/protocols/lr)
