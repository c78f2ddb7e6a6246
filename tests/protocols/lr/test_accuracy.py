"""Vertical LR on real HE backends reaches centralised scikit-learn's test AUC on the same rows
(stratified 80/20 holdout, seed 42), for CKKS and for Paillier; DP at epsilon 8 is accounted."""

from __future__ import annotations

import numpy as np
import pytest
from dp_accounting import dp_event
from dp_accounting.rdp import rdp_privacy_accountant

from tests.protocols.lr.conftest import fit_and_score, load
from vfl.runtime.models.lr import LRParams

BREAST = dict(solver="adam", batch_size=32, epochs=3, learning_rate=0.05, lr_decay=0.5, l2=0.0)
CREDIT = dict(solver="adam", batch_size=2048, epochs=4, learning_rate=0.1, l2=0.0)  # the old defaults


@pytest.mark.parametrize("he", ["ckks", "paillier"])
def test_breast_matches_sklearn(he: str) -> None:
    if he == "paillier":
        pytest.importorskip("phe")
        pytest.importorskip("gmpy2", reason="phe without gmpy2 is ~10x slower (minutes here)")
    tables, active = load("breast")
    out = fit_and_score(tables, active, LRParams(he=he, **BREAST))
    print(f"breast {he}: vfl test AUC {out.test_auc:.4f}, sklearn {out.sklearn_auc:.4f}")
    assert out.test_auc >= out.sklearn_auc - 0.005
    stats = out.models[active].fit_stats
    assert stats["seconds"]["crypto"] > 0 and stats["bytes_sent"] > 0


@pytest.mark.parametrize("he", ["ckks", "zpaillier"])
def test_default_credit_matches_sklearn(he: str) -> None:
    """CKKS on all 30,000 rows; Paillier-2048 (the fast backend: phe would take minutes) on the
    first 10,000, which encrypt one residual per row per step: the full set costs CI a minute."""
    tables, active = load("default_credit")
    schedule = CREDIT
    if he == "zpaillier":  # the same 4 epochs in the steps of 2,048-row batches on 30,000 rows
        tables, schedule = [t.take(np.arange(10_000)) for t in tables], {**CREDIT, "batch_size": 512}
    out = fit_and_score(tables, active, LRParams(he=he, **schedule))
    print(f"default_credit {he}: vfl test AUC {out.test_auc:.4f}, sklearn {out.sklearn_auc:.4f}")
    assert out.test_auc >= out.sklearn_auc - 0.005


def test_dp_epsilon_8_is_accounted_and_auc_loss_reported() -> None:
    tables, active = load("breast")
    plain = fit_and_score(tables, active, LRParams(he="ckks", **BREAST))
    dp = fit_and_score(tables, active, LRParams(he="ckks", dp_epsilon=8.0, **BREAST))
    stats = dp.models[active].fit_stats
    loss = plain.test_auc - dp.test_auc
    print(
        f"breast DP eps=8: AUC {dp.test_auc:.4f} vs {plain.test_auc:.4f} without DP "
        f"(loss {loss:+.4f}); sigma={stats['noise_multiplier']:.3f}, "
        f"(eps, delta)=({stats['dp_epsilon']:.3f}, {stats['dp_delta']})"
    )
    assert 0.5 < dp.test_auc <= 1.0
    # the schedule: 455 train rows, 10 % validation -> 410 training rows in batches of 32
    n_train, steps = 410, stats["epochs_run"] * 13
    acc = rdp_privacy_accountant.RdpAccountant()
    acc.compose(
        dp_event.PoissonSampledDpEvent(32 / n_train, dp_event.GaussianDpEvent(stats["noise_multiplier"])),
        steps,
    )
    assert stats["dp_epsilon"] == pytest.approx(acc.get_epsilon(1e-5), rel=1e-9)
    assert stats["dp_epsilon"] <= 8.0 and stats["dp_delta"] == 1e-5
    assert dp.models["host"].fit_stats["noise_multiplier"] == stats["noise_multiplier"]
    assert plain.models[active].fit_stats["dp_epsilon"] is None
