"""LR on another compute device (issue #10): PyTorch-CPU trains the same model as NumPy, and the
device is a party-local choice that changes nothing on the wire."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import replace

import numpy as np
import pytest

from tests.protocols.lr.conftest import load, split_host
from vfl.bench.harness import run_parties
from vfl.core.errors import ConfigError
from vfl.runtime.models.lr import LRParams, LRPartyModel, fit_lr_party, predict_lr_party
from vfl.transport.recording import RecordedMessage, RecordingChannel

# exact HE backend, two passives (masked scores), a validation split: every device-side step runs
PARAMS = LRParams(he="ou", batch_size=64, epochs=2, seed=3)


def _fit_predict(params: LRParams) -> tuple[dict[str, LRPartyModel], np.ndarray, list[RecordedMessage]]:
    tables, active = load("breast")
    by = {t.name: t for t in split_host(tables, 2)}
    log: list[RecordedMessage] = []
    lock = threading.Lock()
    models = run_parties(
        list(by),
        lambda ch: fit_lr_party(RecordingChannel(ch, log, lock), by[ch.me], active=active, params=params),
    )
    scores = run_parties(
        list(by), lambda ch: predict_lr_party(ch, models[ch.me], by[ch.me], device=params.device)
    )
    return models, scores[active], log


@pytest.fixture(scope="module")
def on_cpu() -> tuple[dict[str, LRPartyModel], np.ndarray, list[RecordedMessage]]:
    return _fit_predict(PARAMS)


def test_torch_device_trains_the_same_model(on_cpu) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("torch")
    cpu_models, cpu_scores, cpu_log = on_cpu
    models, scores, log = _fit_predict(replace(PARAMS, device="torch"))
    for name, m in cpu_models.items():
        np.testing.assert_allclose(models[name].weights, m.weights, rtol=0, atol=1e-9)
        assert "device" not in models[name].params, "a model part does not depend on the device"
    assert abs(models["guest"].intercept - cpu_models["guest"].intercept) <= 1e-9  # type: ignore[operator]
    np.testing.assert_allclose(
        models["guest"].fit_stats["val_loss_history"],
        cpu_models["guest"].fit_stats["val_loss_history"],
        rtol=1e-12,
    )
    np.testing.assert_allclose(scores, cpu_scores, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(scores >= 0.5, cpu_scores >= 0.5)
    assert isinstance(scores, np.ndarray) and scores.dtype == np.float64  # host NumPy out

    # the wire is the same: the same messages between the same parties, and no device name in them
    def shape(records: list[RecordedMessage]) -> Counter:
        return Counter((r.sender, r.receiver, r.topic, r.type) for r in records)

    assert shape(log) == shape(cpu_log)
    assert not any(b"torch" in r.payload or b"device" in r.payload for r in log)


def test_an_unknown_device_is_refused_with_the_choices() -> None:
    with pytest.raises(ConfigError) as err:
        LRParams(device="tpu")
    assert "tpu" in str(err.value) and "cuda" in err.value.hint and "auto" in err.value.hint
