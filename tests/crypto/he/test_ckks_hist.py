"""CKKS histograms through the cached-diagonal engine (vfl/crypto/he/ckks_hist.py): equal to the
plaintext bincount for the root, random nodes and an empty node, through the wire; a different
bins matrix never reuses the cache; the over-the-cap path gives the same sums."""

from __future__ import annotations

import numpy as np
import pytest

from vfl.core.errors import CryptoError, WireError
from vfl.crypto.he import HEScheme, make_scheme, scheme_from_public_context
from vfl.crypto.he.ckks_hist import HistogramEngine, choose_layout

from .conftest import BACKENDS, JOB

pytestmark = pytest.mark.skipif("ckks" not in BACKENDS, reason="tenseal missing")

N, F, NB = 5000, 3, 8
ATOL = 1e-4


def _want(bins: np.ndarray, v: np.ndarray, rows: np.ndarray) -> np.ndarray:
    return np.stack([np.bincount(bins[rows, f], v[rows], NB) for f in range(bins.shape[1])])


@pytest.fixture(scope="module")
def setup(
    keyholders: dict[str, HEScheme],
) -> tuple[HEScheme, HEScheme, object, np.ndarray, np.ndarray, np.ndarray]:
    s = keyholders["ckks"]
    rng = np.random.default_rng(7)
    g, h = rng.normal(size=N), rng.random(N) / 4
    bins = rng.integers(0, NB, size=(N, F))
    pub = scheme_from_public_context(s.public_context(), JOB)
    egh = pub.deserialize(s.serialize(s.encrypt_gh(g, h), JOB), JOB)
    return s, pub, egh, g, h, bins


def _check(
    s: HEScheme, pub: HEScheme, hist: object, bins: np.ndarray, g: np.ndarray, h: np.ndarray, rows: np.ndarray
) -> None:
    gg, hh = s.decrypt_histogram(s.deserialize(pub.serialize(hist, JOB), JOB))
    np.testing.assert_allclose(gg, _want(bins, g, rows), atol=ATOL)
    np.testing.assert_allclose(hh, _want(bins, h, rows), atol=ATOL)


def test_cached_histograms_match_plaintext(setup: tuple) -> None:
    s, pub, egh, g, h, bins = setup
    rng = np.random.default_rng(3)
    nodes = [
        np.arange(N),
        np.flatnonzero(rng.random(N) < 0.3),
        np.array([], dtype=np.int64),
        np.array([0, 17, N - 1]),
        np.arange(N // 2),
    ]
    pub.histograms = HistogramEngine(pub)
    for rows in nodes:
        _check(s, pub, pub.bucket_sums(egh, bins, rows, NB), bins, g, h, rows)
    stats = pub.histograms.stats
    assert stats["encoded"] > 0 and stats["reused"] > stats["encoded"] and stats["per_node"] == 0
    root = pub.bucket_sums(egh, bins, np.arange(N), NB)
    left = nodes[1]
    sibling = pub.subtract_histograms(root, pub.bucket_sums(egh, bins, left, NB))
    _check(s, pub, sibling, bins, g, h, np.setdiff1d(np.arange(N), left))


def test_cache_is_not_reused_for_other_bins(setup: tuple) -> None:
    s, pub, egh, g, h, bins = setup
    pub.histograms = HistogramEngine(pub)
    rows = np.arange(0, N, 3)
    pub.bucket_sums(egh, bins, rows, NB)
    first = pub.histograms.stats["encoded"]
    other = bins.copy()
    other[:, 0] = (other[:, 0] + 1) % NB  # same shape and n_bins, other content
    _check(s, pub, pub.bucket_sums(egh, other, rows, NB), other, g, h, rows)
    assert pub.histograms.stats["encoded"] == 2 * first
    _check(s, pub, pub.bucket_sums(egh, bins, rows, NB), bins, g, h, rows)


def test_over_the_cap_path_gives_the_same_sums(setup: tuple) -> None:
    s, pub, egh, g, h, bins = setup
    pub.histograms = HistogramEngine(pub, cache_bytes=0)
    rows = np.flatnonzero(np.arange(N) % 5 != 1)
    _check(s, pub, pub.bucket_sums(egh, bins, rows, NB), bins, g, h, rows)
    assert pub.histograms.stats["encoded"] == 0 and pub.histograms.stats["per_node"] > 0


def test_layout_skips_most_padding() -> None:
    lay = choose_layout(320, 8, 4096)  # 10 features x 32 bins, 30,000 rows
    assert lay.K * lay.n_chunks < 512 and lay.K * lay.n_chunks >= 320
    assert lay.K * lay.B == 4096 and lay.K % lay.n1 == 0


def test_histogram_must_be_one_complex_batch(setup: tuple) -> None:
    s, pub, egh, _, _, bins = setup
    msg = pub.serialize(pub.bucket_sums(egh, bins, np.arange(10), NB), JOB)
    msg.h.CopyFrom(msg.g)
    with pytest.raises(WireError):
        s.deserialize(msg, JOB)


def test_gradients_that_could_overflow_histogram_sums_are_refused() -> None:
    scheme = make_scheme("ckks")
    g = np.full(40_000, 2.0**17)  # each value is encryptable, their sum is not safe to aggregate
    with pytest.raises(CryptoError, match="overflow"):
        scheme.encrypt_gh(g, np.ones_like(g))
