"""Fixed-point and slot packing: exact round trips; overflow raises instead of wrapping."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vfl.core.errors import CryptoError
from vfl.crypto.he import HEScheme
from vfl.crypto.he.encoding import FixedPoint, SlotPacking, gh_slot_bits, log2_ceil

from .conftest import BACKENDS


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.lists(st.integers(-(2**40) + 1, 2**40 - 1), min_size=3, max_size=3), min_size=1, max_size=20)
)
def test_packing_round_trip(rows: list[list[int]]) -> None:
    p = SlotPacking(41, 3)
    cols = [list(c) for c in zip(*rows, strict=False)]
    assert p.unpack(p.pack(cols)) == cols


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(-(2**30), 2**30), min_size=2, max_size=40))
def test_packed_sums_stay_exact(values: list[int]) -> None:
    """Summing m packed values slot-wise never spills into a neighbour (headroom formula)."""
    m = len(values)
    slot = gh_slot_bits(31, m)
    p = SlotPacking(slot, 2)
    packed = p.pack([values, [-v for v in values]])
    total = sum(packed)
    assert p.unpack([total]) == [[sum(values)], [-sum(values)]]


def test_fixed_point_round_trip_and_limits() -> None:
    fp = FixedPoint(40)
    v = np.array([0.0, -1.5, 3.25, 1e-9, -1e5])
    np.testing.assert_allclose(fp.decode(fp.encode(v)), v, atol=2**-40)
    with pytest.raises(CryptoError, match="needs more than"):
        fp.encode(np.array([1e9]), max_bits=60)
    with pytest.raises(CryptoError, match="NaN or infinite"):
        fp.encode(np.array([np.nan]))
    with pytest.raises(CryptoError, match="does not fit"):
        SlotPacking(8, 1).pack([[200]])
    assert log2_ceil(1) == 0 and log2_ceil(1024) == 10 and log2_ceil(1025) == 11


def test_tampered_packing_is_detected() -> None:
    p = SlotPacking(16, 2)
    with pytest.raises(CryptoError, match="overflowed or was tampered"):
        p.unpack([1 << 40])


@pytest.mark.parametrize("name", [b for b in BACKENDS if b != "ckks"])
def test_paillier_family_overflow_raises(name: str, keyholders: dict[str, HEScheme]) -> None:
    s = keyholders[name]
    e = s.encrypt(np.array([1.0, -2.0]))
    with pytest.raises(CryptoError, match="would wrap"):
        for _ in range(80):  # each product adds ~80 bits: must stop before the modulus
            e = s.mul_plain(e, np.array([1e6, -1e6]))


def test_ckks_depth_exhaustion_raises(keyholders: dict[str, HEScheme]) -> None:
    if "ckks" not in keyholders:
        pytest.skip("tenseal missing")
    s = keyholders["ckks"]
    e = s.encrypt(np.array([1.0, 2.0]))
    with pytest.raises(CryptoError, match="depth"):
        for _ in range(4):
            e = s.mul_plain(e, np.array([2.0, 2.0]))


def test_ckks_refuses_values_beyond_its_range(keyholders: dict[str, HEScheme]) -> None:
    if "ckks" not in keyholders:
        pytest.skip("tenseal missing")
    with pytest.raises(CryptoError, match="too large"):
        keyholders["ckks"].encrypt(np.array([1e7]))
