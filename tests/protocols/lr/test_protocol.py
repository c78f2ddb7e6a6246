"""LR protocol behaviour beyond accuracy: model parts round-trip as JSON and refuse tampering or
mixing, refusals happen before any training, pairwise masks cancel exactly, and progress is
announced per stage."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

import vfl.protocols.lr as lr
from tests.protocols.lr.conftest import load
from vfl.bench.harness import run_parties
from vfl.core.errors import ConfigError, DataError, ProtocolError
from vfl.protocols.lr.masking import decode_fixed, keystream_u64, mask_scores
from vfl.runtime.models.lr import LRParams, LRPartyModel, fit_lr_party, predict_lr_party

FAST = LRParams(he="ckks", batch_size=128, epochs=1)


def test_all_is_pinned() -> None:
    assert sorted(lr.__all__) == sorted(
        [
            "GLM_OBJECTIVES",
            "Family",
            "GLMParams",
            "LRParams",
            "PartFit",
            "Standardiser",
            "part_fingerprint",
            "predict_active",
            "predict_passive",
            "train_active",
            "train_passive",
        ]
    )


@pytest.fixture(scope="module")
def trained() -> tuple[list, dict[str, LRPartyModel]]:
    tables, active = load("breast")
    by = {t.name: t for t in tables}
    models = run_parties(list(by), lambda ch: fit_lr_party(ch, by[ch.me], active=active, params=FAST))
    return tables, models


def test_model_parts_round_trip_as_json(trained) -> None:  # type: ignore[no-untyped-def]
    tables, models = trained
    by = {t.name: t for t in tables}
    reloaded = {n: LRPartyModel.from_dict(json.loads(json.dumps(m.to_dict()))) for n, m in models.items()}
    assert reloaded["host"].intercept is None and reloaded["guest"].intercept is not None
    assert set(reloaded["guest"].parts) == {"guest", "host"}
    assert reloaded["guest"].parts == reloaded["host"].parts
    a = run_parties(list(by), lambda ch: predict_lr_party(ch, models[ch.me], by[ch.me]))["guest"]
    b = run_parties(list(by), lambda ch: predict_lr_party(ch, reloaded[ch.me], by[ch.me]))["guest"]
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    assert np.all((a > 0) & (a < 1))
    # only this party's own weights are in its part
    assert len(reloaded["host"].weights) == by["host"].n_features
    stats = reloaded["guest"].fit_stats
    assert set(stats["seconds"]) == {"total", "crypto", "compute", "network"}
    assert stats["epochs_run"] == 1 and len(stats["loss_history"]) == 1


def test_tampered_part_is_refused(trained) -> None:  # type: ignore[no-untyped-def]
    _, models = trained
    d = models["host"].to_dict()
    d["weights"][0] += 0.5
    with pytest.raises(DataError):
        LRPartyModel.from_dict(d)


def test_parts_from_another_training_are_refused(trained) -> None:  # type: ignore[no-untyped-def]
    tables, models = trained
    by = {t.name: t for t in tables}
    other = dict(models, host=replace(models["host"], job_id="job-other"))
    with pytest.raises(ProtocolError, match="job"):
        run_parties(list(by), lambda ch: predict_lr_party(ch, other[ch.me], by[ch.me]))


def test_unreachable_epsilon_refuses_to_start() -> None:
    tables, active = load("breast")
    by = {t.name: t for t in tables}
    params = replace(FAST, dp_epsilon=1e-4, epochs=50, batch_size=455)
    with pytest.raises(ConfigError) as err:
        run_parties(list(by), lambda ch: fit_lr_party(ch, by[ch.me], active=active, params=params))
    assert "epsilon" in err.value.cause and err.value.hint


def test_every_party_announces_the_epoch_stage_then_reports_each_epoch() -> None:
    tables, active = load("breast")
    by = {t.name: t for t in tables}
    seen: dict[str, list[tuple[str, int, int]]] = {n: [] for n in by}
    two = replace(FAST, epochs=2)
    run_parties(
        list(by),
        lambda ch: fit_lr_party(
            ch, by[ch.me], active=active, params=two, progress=lambda *e: seen[ch.me].append(e)
        ),
    )
    assert all(events == [("epoch", e, 2) for e in range(3)] for events in seen.values()), seen


def test_misaligned_rows_are_refused() -> None:
    tables, active = load("breast")
    by = {t.name: t for t in tables}
    short = {"guest": by["guest"], "host": by["host"].take(np.arange(100))}
    with pytest.raises(ProtocolError, match="aligned rows"):
        run_parties(list(by), lambda ch: fit_lr_party(ch, short[ch.me], active=active, params=FAST))


@pytest.mark.parametrize(
    "bad",
    [
        dict(epochs=0),
        dict(optimizer="rmsprop"),
        dict(he="rsa"),
        dict(class_weight={2: 1.0}),
        dict(dp_epsilon=-1.0),
    ],
)
def test_bad_params_raise_config_error(bad: dict) -> None:
    with pytest.raises(ConfigError):
        LRParams(**bad)


def test_pairwise_masks_cancel_exactly() -> None:
    rng = np.random.default_rng(3)
    names = ["p1", "p2", "p3"]
    seeds = {(a, b): rng.bytes(32) for a in names for b in names if a < b}
    scores = {n: rng.normal(0, 5, 1000) for n in names}
    total = np.zeros(1000, dtype=np.uint64)
    for n in names:
        mine = {o: seeds[tuple(sorted((n, o)))] for o in names if o != n}  # type: ignore[index]
        share = mask_scores(scores[n], n, mine, "job|lr/e0/b0/score", 32)
        assert np.median(np.abs(decode_fixed(share, 32))) > 1e6
        total += share
    np.testing.assert_allclose(decode_fixed(total, 32), sum(scores.values()), atol=3 * 2.0**-32)
    k1 = keystream_u64(b"k" * 32, "a", 8)
    assert not np.array_equal(k1, keystream_u64(b"k" * 32, "b", 8))
    np.testing.assert_array_equal(k1, keystream_u64(b"k" * 32, "a", 8))
