"""Row subsampling (xgboost's ``subsample``): each tree encrypts and grows on a random share of
the rows, drawn from the seed alone; the model stays as good as xgboost's with the same share."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from tests.protocols.secureboost.conftest import fit_predict, load, pooled, split_rows, xgb_model
from vfl.core.errors import ConfigError
from vfl.protocols.secureboost import SBTConfig
from vfl.runtime.models.sbt import SBTParams
from vfl.transport import Channel, RecordedMessage, RecordingChannel
from vfl.wire.v1 import secureboost_pb2 as pb


@pytest.fixture(scope="module")
def subsampled() -> dict[str, Any]:
    tables, active = load("default_credit")
    y = tables[active].label
    assert y is not None
    tr, te = split_rows(y, stratify=True, subsample=5000)
    log: list[RecordedMessage] = []
    lock = threading.Lock()

    def wrap(ch: Channel) -> Channel:
        return RecordingChannel(ch, log, lock)

    params = SBTParams(n_estimators=5, max_depth=3, min_child_weight=3.0, he="ou", subsample=0.5)
    models, proba = fit_predict(tables, active, params, tr, te, wrap=wrap)
    return {
        "tables": tables,
        "active": active,
        "y": y,
        "tr": tr,
        "te": te,
        "params": params,
        "models": models,
        "proba": proba,
        "log": log,
    }


def test_only_sampled_rows_are_encrypted_and_sent(subsampled: dict[str, Any]) -> None:
    n, params = len(subsampled["tr"]), subsampled["params"]
    grads = []
    for rec in subsampled["log"]:
        if rec.type.endswith("SBTGradients"):
            msg = pb.SBTGradients()
            msg.ParseFromString(rec.payload)
            grads.append(msg)
    assert [m.tree for m in grads] == list(range(params.n_estimators))
    samples = []
    for m in grads:
        bits = np.unpackbits(np.frombuffer(m.sample_bits.data, dtype=np.uint8), count=n)
        want = params.config().row_sample(m.tree, n)
        assert want is not None and np.array_equal(np.flatnonzero(bits), want)
        assert m.n_sampled == len(want) == round(0.5 * n)
        assert m.gh.count == m.gh.n_ciphertexts == m.n_sampled  # one ciphertext per sampled row
        samples.append(bits)
    assert not np.array_equal(samples[0], samples[1]), "every tree draws its own sample"


def test_subsampled_model_matches_xgboost(subsampled: dict[str, Any]) -> None:
    y, tr, te, params = subsampled["y"], subsampled["tr"], subsampled["te"], subsampled["params"]
    auc = roc_auc_score(y[te], subsampled["proba"])
    X = pooled(subsampled["tables"])
    # xgboost draws its own rows: compare with its mean over a few seeds
    ref = np.mean(
        [
            roc_auc_score(
                y[te],
                xgb_model(SBTParams(**{**params.__dict__, "seed": s}), y[tr])
                .fit(X[tr], y[tr])
                .predict_proba(X[te])[:, 1],
            )
            for s in range(5)
        ]
    )
    assert auc >= ref - 0.005, (auc, ref)


def test_row_sample_is_seeded_and_validated() -> None:
    cfg = SBTConfig(subsample=0.3, seed=7)
    a, b = cfg.row_sample(0, 1000), cfg.row_sample(0, 1000)
    assert a is not None and b is not None and np.array_equal(a, b) and len(a) == 300
    assert np.all(np.diff(a) > 0)
    other = SBTConfig(subsample=0.3, seed=8).row_sample(0, 1000)
    assert other is not None and not np.array_equal(a, other)
    assert SBTConfig().row_sample(0, 1000) is None
    with pytest.raises(ConfigError, match="subsample"):
        SBTConfig(subsample=0.0)
