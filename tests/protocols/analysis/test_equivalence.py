"""The federated WOE/IV equals the plaintext computation on the pooled rows with the same bins
(to 1e-9), for every HE backend and on real tables; cross-party Pearson r equals numpy's (1e-6)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.protocols.analysis.conftest import correlation_errors, load_table, run, woe_errors
from vfl.crypto.he import available_backends
from vfl.protocols.analysis import AnalysisConfig

BACKENDS = available_backends()


@pytest.mark.parametrize("he", ["ckks", "ou", "zpaillier", "paillier"])
def test_woe_iv_equal_plaintext_per_backend_breast_cancer(he: str) -> None:
    if he not in BACKENDS:
        pytest.skip(f"{he} is not installed")
    # phe's Paillier (about 100 encryptions/s here) and ZPaillier are the slow schemes: fewer
    # rows and no correlation step (correlation is checked on CKKS and OU, here and below)
    slow = he in ("paillier", "zpaillier")
    t = load_table("breast_cancer", rows=240 if slow else None)
    r = run(t, he, cfg=AnalysisConfig(correlation=not slow, min_count=10))
    err, n = woe_errors(r)
    assert n == t.X.shape[1]
    assert err <= 1e-9
    assert max(f["iv"] for f in r.active.features) > 0.5  # informative, so the check has teeth
    if not slow:
        cerr, pairs = correlation_errors(r)
        assert pairs == 10 * 10 + 10 * 10 + 10 * 10
        assert cerr <= 1e-6


@pytest.mark.parametrize(
    ("table", "he", "rows"),
    [
        ("default", "ckks", 3000),  # the embedded default (insurer, hospital, pharma)
        ("default_credit", "ou", 1500),  # FATE's default_credit
        ("gbsg2", "ou", None),  # German breast cancer study group 2, raw
    ],
)
def test_woe_iv_and_correlation_on_real_tables(table: str, he: str, rows: int | None) -> None:
    t = load_table(table, rows)
    r = run(t, he, cfg=AnalysisConfig(min_count=20, max_bin=12))
    err, n = woe_errors(r)
    assert n == t.X.shape[1] and err <= 1e-9
    cerr, pairs = correlation_errors(r)
    assert pairs > 0 and cerr <= 1e-6


def test_missing_values_and_two_parties() -> None:
    t = load_table("breast_cancer")
    rng = np.random.default_rng(5)
    X = t.X.copy()
    X[rng.random(X.shape) < 0.08] = np.nan  # about 45 missing per column: a bin of their own
    X[:3, 20] = np.nan
    X[3:, 20] = np.where(np.isnan(X[3:, 20]), 0.0, X[3:, 20])  # 3 missing: folded into bin 0
    t.X = X
    r = run(t, "ou", parties=("insurer", "pharma"), cfg=AnalysisConfig(correlation=False, min_count=15))
    err, n = woe_errors(r)
    assert n == 30 and err <= 1e-9
    feats = {f["name"]: f for f in r.active.features}
    assert feats[t.names[0]]["missing_bin"] == feats[t.names[0]]["n_bins"] - 1
    assert feats[t.names[0]]["rows"][-1] > 0
    pharma = r.passives["pharma"].bins[20 - 15]
    assert pharma.missing == 0


def test_dp_noise_changes_the_counts_but_keeps_the_ranking_roughly() -> None:
    t = load_table("breast_cancer")
    plain = run(t, "ou", cfg=AnalysisConfig(correlation=False))
    noisy = run(t, "ou", cfg=AnalysisConfig(correlation=False, dp_epsilon=1.0, seed=3))
    a = np.array([f["iv"] for f in plain.active.features])
    b = np.array([f["iv"] for f in noisy.active.features])
    own = [f["party"] == "insurer" for f in plain.active.features]
    assert np.allclose(a[own], b[own])  # the label holder's own columns need no noise
    assert not np.allclose(a[~np.array(own)], b[~np.array(own)])
    assert np.corrcoef(a, b)[0, 1] > 0.9
