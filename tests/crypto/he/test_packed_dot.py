"""dot_plain by base-64 digit bucket sums (vfl/crypto/he/digits.py): exact against integer numpy
on a plaintext IntOps, and against numpy on every Paillier-family backend, with negatives,
extremes, the wide-value fallback and the overflow checks."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

from vfl.core.errors import CryptoError
from vfl.crypto.he import HEScheme, scheme_from_public_context
from vfl.crypto.he.digits import DIGIT_BITS, MAX_DIGIT_INPUT_BITS, digit_columns, digit_matvec
from vfl.crypto.he.integer import DOT_SCALE_BITS, IntOps, IntVector

from .conftest import BACKENDS, JOB

INTEGER_BACKENDS = [b for b in BACKENDS if b != "ckks"]


class PlainOps(IntOps):
    """The IntOps contract on plain Python ints: checks the digit algebra exactly, instantly."""

    key_bits, capacity_bits = 4096, 4000

    @property
    def has_secret_key(self) -> bool:
        return True

    def public_key_bytes(self) -> bytes:
        return b"plain"

    def encrypt(self, ints: list[int]) -> list[int]:
        return [int(v) for v in ints]

    def decrypt(self, h: list[int]) -> list[int]:
        return list(h)

    def size(self, h: list[int]) -> int:
        return len(h)

    def add(self, a: list[int], b: list[int]) -> list[int]:
        return [x + y for x, y in zip(a, b, strict=True)]

    def sub(self, a: list[int], b: list[int]) -> list[int]:
        return [x - y for x, y in zip(a, b, strict=True)]

    def add_plain(self, a: list[int], ints: list[int]) -> list[int]:
        return self.add(a, ints)

    def mul_plain(self, a: list[int], ints: list[int]) -> list[int]:
        return [x * int(m) for x, m in zip(a, ints, strict=True)]

    def take(self, a: list[int], idx: np.ndarray) -> list[int]:
        return [a[int(i)] for i in idx]

    def matvec(self, a: list[int], cols: list[list[int]]) -> list[int]:
        return [sum(int(m) * x for m, x in zip(col, a, strict=True)) for col in cols]

    def bucket_sums(self, a: list[int], rows: np.ndarray, bins: np.ndarray, n_bins: int) -> Any:
        out = [0] * (bins.shape[1] * n_bins)
        for r in rows:
            for f in range(bins.shape[1]):
                out[f * n_bins + int(bins[r, f])] += a[int(r)]
        return out

    def to_wire(self, h: Any, msg: Any) -> None:  # pragma: no cover - not used here
        raise NotImplementedError

    def from_wire(self, msg: Any) -> Any:  # pragma: no cover - not used here
        raise NotImplementedError


def _exact(d: list[int], xi: np.ndarray) -> list[int]:
    return [sum(int(x) * di for x, di in zip(xi[:, j], d, strict=True)) for j in range(xi.shape[1])]


@pytest.mark.parametrize("b", [1, 5, 29, 45, MAX_DIGIT_INPUT_BITS])
def test_digit_columns_round_trip(b: int) -> None:
    rng = np.random.default_rng(b)
    top = (1 << b) - 1
    xi = rng.integers(-top, top, size=(50, 3), endpoint=True, dtype=np.int64)
    xi[0, :] = [top, -top, 0]  # extremes and zero
    digits, nd = digit_columns(xi, b)
    assert digits.min() >= 0 and digits.max() < (1 << DIGIT_BITS)
    weights = [1 << (DIGIT_BITS * p) for p in range(nd)]
    for j in range(3):
        back = [sum(int(digits[i, j * nd + p]) * weights[p] for p in range(nd)) - (1 << b) for i in range(50)]
        assert back == [int(v) for v in xi[:, j]]


@pytest.mark.parametrize("b", [1, 7, 30, MAX_DIGIT_INPUT_BITS])
def test_digit_matvec_is_exact_on_plain_ints(b: int) -> None:
    rng = np.random.default_rng(7 + b)
    n, k = 40, 4
    top = (1 << b) - 1
    xi = rng.integers(-top, top, size=(n, k), endpoint=True, dtype=np.int64)
    xi[:, 0] = top
    xi[:, 1] = -top
    d = [int(v) for v in rng.integers(-(1 << 60), 1 << 60, size=n)]
    d[0], d[1] = -(1 << 80), (1 << 80) - 1  # signed d of any size
    got = digit_matvec(PlainOps(), d, xi, b)
    assert got == _exact(d, xi)


@pytest.fixture(params=INTEGER_BACKENDS)
def int_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _public(s: HEScheme) -> HEScheme:
    return scheme_from_public_context(s.public_context(), JOB)


def test_dot_plain_matches_numpy_with_negatives_and_extremes(
    int_backend: str, keyholders: dict[str, HEScheme]
) -> None:
    s = keyholders[int_backend]
    pub = _public(s)
    rng = np.random.default_rng(11)
    n, k = (8, 3) if int_backend == "paillier" else (60, 6)
    d = rng.normal(size=n) / 4
    d[0], d[1] = -3.0, 3.0
    x = rng.normal(scale=2.0, size=(n, k))
    x[:, 0] = 0.0
    x[0, 1], x[1, 1] = 1e5, -1e5  # large standardised outliers stay on the digit path
    x[2, 2] = -(2.0**-30)  # below the matrix scale: rounds to 0
    enc = pub.deserialize(s.serialize(s.encrypt(d), JOB), JOB)
    got = pub.dot_plain(enc, x)
    assert isinstance(got, IntVector) and got.scale_bits == s.scale_bits + DOT_SCALE_BITS
    back = s.decrypt(s.deserialize(pub.serialize(got, JOB), JOB))
    bound = np.sum(np.abs(d)) * 2.0 ** -(DOT_SCALE_BITS + 1) + 1e-9
    np.testing.assert_allclose(back, x.T @ d, rtol=0, atol=bound)


def test_dot_plain_wide_values_fall_back_exactly(keyholders: dict[str, HEScheme]) -> None:
    if "zpaillier" not in keyholders:
        pytest.skip("sf-heu not installed")
    s = keyholders["zpaillier"]
    d = np.array([0.5, -0.25, 1.0])
    x = np.array([[2.0**40, 1.0], [-(2.0**39), -3.0], [7.0, 2.0**38]])  # > 2^61 at scale 2^24
    np.testing.assert_allclose(s.decrypt(s.dot_plain(s.encrypt(d), x)), x.T @ d, rtol=1e-12)


def test_dot_plain_refuses_overflow_and_bad_input(int_backend: str, keyholders: dict[str, HEScheme]) -> None:
    s = keyholders[int_backend]
    cap = s._ops.capacity_bits  # type: ignore[attr-defined]
    # a vector whose tracked bound sits near the capacity (as after a few products)
    big = dataclasses.replace(s.encrypt(np.array([3.0, 1.0])), bound_bits=cap - 20)
    with pytest.raises(CryptoError, match="wrap"):
        s.dot_plain(big, np.full((2, 2), 1000.0))
    small = s.encrypt(np.array([1.0, -1.0]))
    with pytest.raises(CryptoError, match="NaN"):
        s.dot_plain(small, np.array([[1.0, np.nan], [0.0, 1.0]]))
    with pytest.raises(CryptoError, match="matrix"):
        s.dot_plain(small, np.ones((3, 2)))


def test_computed_ciphertexts_are_rerandomised(int_backend: str, keyholders: dict[str, HEScheme]) -> None:
    """Two serialisations of one computed vector differ (fresh zeros added); values agree."""
    s = keyholders[int_backend]
    pub = _public(s)
    enc = pub.deserialize(s.serialize(s.encrypt(np.array([1.0, -2.0, 0.5])), JOB), JOB)
    got = pub.dot_plain(enc, np.array([[1.0], [2.0], [-4.0]]))
    m1, m2 = pub.serialize(got, JOB), pub.serialize(got, JOB)
    assert m1.SerializeToString() != m2.SerializeToString()
    for m in (m1, m2):
        np.testing.assert_allclose(s.decrypt(s.deserialize(m, JOB)), [-5.0], atol=1e-6)
