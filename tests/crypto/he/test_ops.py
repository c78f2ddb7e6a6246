"""decrypt(op(encrypt(a), b)) == op(a, b) within each backend's precision, for every backend."""

from __future__ import annotations

import numpy as np
import pytest

from vfl.core.errors import WireError
from vfl.crypto.he import HEScheme, scheme_from_public_context

from .conftest import JOB, SIZES, TOL


def _vec(rng: np.random.Generator, n: int) -> np.ndarray:
    """Random values with negatives, zeros and a few large magnitudes."""
    v = rng.normal(scale=3.0, size=n)
    v[:: max(n // 5, 1)] = 0.0
    v[1] = 100.0
    v[2] = -100.0
    return v


def test_elementwise_ops(backend: str, keyholders: dict[str, HEScheme], rng: np.random.Generator):
    s, n, tol = keyholders[backend], SIZES[backend], TOL[backend]
    a, b = _vec(rng, n), _vec(rng, n)
    ea, eb = s.encrypt(a), s.encrypt(b)
    assert len(ea) == n
    np.testing.assert_allclose(s.decrypt(ea), a, atol=tol)
    np.testing.assert_allclose(s.decrypt(s.add(ea, eb)), a + b, atol=tol)
    np.testing.assert_allclose(s.decrypt(s.add_plain(ea, b)), a + b, atol=tol)
    np.testing.assert_allclose(s.decrypt(s.mul_plain(ea, b)), a * b, atol=tol * 100)
    np.testing.assert_allclose(s.decrypt(s.sum(ea)), [a.sum()], atol=tol * 10)
    # products then sums (the LR pattern), and sums of a product
    np.testing.assert_allclose(s.decrypt(s.sum(s.mul_plain(ea, b))), [a @ b], atol=tol * 1e3)


def test_dot_plain_on_public_side(backend: str, keyholders: dict[str, HEScheme], rng: np.random.Generator):
    s = keyholders[backend]
    n, k = SIZES[backend], 5 if backend == "paillier" else 23
    d, x = _vec(rng, n) / 50, rng.normal(size=(n, k))
    x[:, 0] = 0.0
    pub = scheme_from_public_context(s.public_context(), JOB)
    assert not pub.has_secret_key and pub.fingerprint == s.fingerprint
    got = pub.dot_plain(pub.deserialize(s.serialize(s.encrypt(d), JOB), JOB), x)
    back = s.deserialize(pub.serialize(got, JOB), JOB)
    np.testing.assert_allclose(s.decrypt(back), x.T @ d, atol=TOL[backend] * 100)


def test_histograms_match_bincount(backend: str, keyholders: dict[str, HEScheme], rng: np.random.Generator):
    s = keyholders[backend]
    n = min(SIZES[backend], 2000)
    f, n_bins = (2, 3) if backend == "paillier" else (4, 16)
    g, h = rng.normal(size=n), rng.random(n) / 4
    bins = rng.integers(0, n_bins, size=(n, f))
    left = np.flatnonzero(rng.random(n) < 0.4)
    right = np.setdiff1d(np.arange(n), left)
    pub = scheme_from_public_context(s.public_context(), JOB)
    egh = pub.deserialize(s.serialize(s.encrypt_gh(g, h), JOB), JOB)
    parent = pub.bucket_sums(egh, bins, np.arange(n), n_bins)
    child = pub.bucket_sums(egh, bins, left, n_bins)
    sibling = pub.subtract_histograms(parent, child)
    for hist, rows in ((child, left), (sibling, right)):
        gg, hh = s.decrypt_histogram(s.deserialize(pub.serialize(hist, JOB), JOB))
        want_g = np.stack([np.bincount(bins[rows, j], g[rows], n_bins) for j in range(f)])
        want_h = np.stack([np.bincount(bins[rows, j], h[rows], n_bins) for j in range(f)])
        assert gg.shape == (f, n_bins)
        np.testing.assert_allclose(gg, want_g, atol=TOL[backend] * 10)
        np.testing.assert_allclose(hh, want_h, atol=TOL[backend] * 10)


def test_gh_round_trip(backend: str, keyholders: dict[str, HEScheme], rng: np.random.Generator):
    s, n = keyholders[backend], SIZES[backend]
    g, h = rng.normal(size=n), rng.random(n)
    np.testing.assert_allclose(s.decrypt(s.encrypt_gh(g, h)), np.stack([g, h], 1), atol=TOL[backend])


@pytest.mark.parametrize("name", ["zpaillier", "ou"])
def test_paillier_family_histograms_are_packed(
    name: str, keyholders: dict[str, HEScheme], rng: np.random.Generator
):
    """Many bin sums travel in one ciphertext; wider-than-127-bin histograms still work."""
    s = keyholders[name]
    n, n_bins = 200, 150
    g, h = rng.normal(size=n), rng.random(n)
    bins = rng.integers(0, n_bins, size=(n, 2))
    msg = s.serialize(s.bucket_sums(s.encrypt_gh(g, h), bins, np.arange(n), n_bins), JOB)
    assert msg.bins_per_ciphertext > 1
    occupied = len(np.unique(bins[:, 0])) + len(np.unique(bins[:, 1]))  # 200 rows leave bins empty
    assert msg.g.n_ciphertexts == -(-occupied // msg.bins_per_ciphertext)
    gg, _ = s.decrypt_histogram(s.deserialize(msg, JOB))
    np.testing.assert_allclose(gg[1], np.bincount(bins[:, 1], g, n_bins), atol=1e-8)


@pytest.mark.parametrize("name", ["paillier", "zpaillier", "ou"])
def test_only_occupied_bins_travel(name: str, keyholders: dict[str, HEScheme], rng: np.random.Generator):
    """A feature of few values (sex, a code) sends its values' sums, not max_bin bins; the key
    holder gets the full (F, n_bins) arrays back, exact zeros where no row is, for a built
    node, a sibling by subtraction and a sum over chunks alike."""
    s = keyholders[name]
    pub = scheme_from_public_context(s.public_context(), JOB)
    n, n_bins = 120, 33
    g, h = rng.normal(size=n), rng.random(n)
    bins = np.stack([rng.choice([3, 17], size=n), rng.integers(0, 5, size=n), rng.integers(0, 33, size=n)], 1)
    egh = pub.deserialize(s.serialize(s.encrypt_gh(g, h), JOB), JOB)
    left = np.flatnonzero(bins[:, 1] < 2)
    parent = pub.add_histograms(  # two chunks' bucket sums, as a passive sums the root
        pub.bucket_sums(pub.rows(egh, 0, 60), bins[:60], np.arange(60), n_bins),
        pub.bucket_sums(pub.rows(egh, 60, n), bins[60:], np.arange(60), n_bins),
    )
    child = pub.bucket_sums(egh, bins, left, n_bins)
    sibling = pub.subtract_histograms(parent, child)
    dense = 3 * n_bins
    for hist, rows in ((parent, np.arange(n)), (child, left), (sibling, np.setdiff1d(np.arange(n), left))):
        msg = pub.serialize(hist, JOB)
        carried = int(np.unpackbits(np.frombuffer(msg.occupied, np.uint8)).sum())
        assert carried < dense and msg.g.n_ciphertexts == -(-carried // msg.bins_per_ciphertext)
        gg, hh = s.decrypt_histogram(s.deserialize(msg, JOB))
        want_g = np.stack([np.bincount(bins[rows, j], g[rows], n_bins) for j in range(3)])
        want_h = np.stack([np.bincount(bins[rows, j], h[rows], n_bins) for j in range(3)])
        np.testing.assert_allclose(gg, want_g, atol=1e-8)
        np.testing.assert_allclose(hh, want_h, atol=1e-8)
        assert (hh[want_h == 0] == 0).all()
    msg = pub.serialize(child, JOB)
    assert int(np.unpackbits(np.frombuffer(msg.occupied, np.uint8)).sum()) == 2 + 2 + len(
        np.unique(bins[left, 2])
    ), "a node carries only the bins its own rows are in"


@pytest.mark.parametrize("name", ["zpaillier", "ou"])
def test_occupied_flags_are_checked(name: str, keyholders: dict[str, HEScheme], rng: np.random.Generator):
    """Flags that do not fit the histogram, or announce other than the ciphertexts carried, are
    refused before anything is decrypted."""
    s = keyholders[name]
    bins = np.array([[0, 1], [0, 2], [0, 1], [0, 2]])
    hist = s.bucket_sums(s.encrypt_gh(rng.normal(size=4), rng.random(4)), bins, np.arange(4), 9)
    good = s.serialize(hist, JOB)
    assert len(good.occupied) == 3  # 2 x 9 flags in 3 bytes
    for flags, why in (
        (good.occupied[:2], "bytes for 18 bins"),
        (b"\x00\x00\x00", "malformed"),
        (good.occupied[:2] + b"\x01", "malformed"),  # a flag set past the 18th entry
        (b"\xff\xff\xc0", "ciphertexts for 18 bins"),  # every bin: more than were sent
    ):
        bad = type(good)()
        bad.CopyFrom(good)
        bad.occupied = flags
        with pytest.raises(WireError, match=why):
            s.deserialize(bad, JOB)


def test_ckks_histograms_carry_no_flags(keyholders: dict[str, HEScheme], rng: np.random.Generator):
    """A CKKS histogram packs every bin into its slots: one that claims flags is refused."""
    s = keyholders["ckks"]
    bins = np.array([[0, 1], [0, 2], [0, 1], [0, 2]])
    hist = s.bucket_sums(s.encrypt_gh(rng.normal(size=4), rng.random(4)), bins, np.arange(4), 9)
    msg = s.serialize(hist, JOB)
    assert not msg.occupied
    s.deserialize(msg, JOB)
    msg.occupied = b"\x80\x00\x00"
    with pytest.raises(WireError, match="every bin"):
        s.deserialize(msg, JOB)
