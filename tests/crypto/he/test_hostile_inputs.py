"""The audit's hostile HE inputs (issue 18): each is refused with a vfl error, never a crash."""

from __future__ import annotations

import math
import os
import tempfile

import numpy as np
import pytest

from vfl.core.errors import CryptoError, VflError, WireError
from vfl.crypto.he import HEScheme, scheme_from_public_context
from vfl.crypto.he.encoding import SlotPacking
from vfl.crypto.he.sfheu import MAX_HEU_DEPTH, parse_heu_array
from vfl.wire.v1 import he_pb2

from .conftest import BACKENDS, JOB

INTEGER = [b for b in BACKENDS if b != "ckks"]
needs_ckks = pytest.mark.skipif("ckks" not in BACKENDS, reason="tenseal is not installed")


def _with_scale(s: HEScheme, msg: he_pb2.CipherBatch, scale: float) -> he_pb2.CipherBatch:
    """Rewrite every SEAL ciphertext of ``msg`` with another scale (what a hostile peer can do)."""
    import tenseal.sealapi as sa  # type: ignore[import-untyped]

    out = he_pb2.CipherBatch()
    out.CopyFrom(msg)
    del out.ciphertexts[:]
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "ct")
        for raw in msg.ciphertexts:
            with open(path, "wb") as f:
                f.write(raw)
            ct = sa.Ciphertext(s._sc)  # type: ignore[attr-defined]
            ct.load(s._sc, path)  # type: ignore[attr-defined]
            ct.scale = scale
            ct.save(path)
            with open(path, "rb") as f:
                out.ciphertexts.append(f.read())
    return out


@needs_ckks
@pytest.mark.parametrize("scale", [math.nan, math.inf, 2.0**20])
def test_ckks_ciphertext_with_a_nan_or_wrong_scale_is_refused(
    keyholders: dict[str, HEScheme], scale: float
) -> None:
    s = keyholders["ckks"]
    msg = s.serialize(s.encrypt(np.linspace(-1, 1, 8)), JOB)
    assert s.deserialize(msg, JOB) is not None  # the honest batch passes
    bad = _with_scale(s, msg, scale)
    with pytest.raises(VflError):
        s.deserialize(bad, JOB)


@needs_ckks
@pytest.mark.parametrize("bits", [5000, 0, 61])
def test_ckks_public_context_with_an_unusable_scale_is_refused(
    keyholders: dict[str, HEScheme], bits: int
) -> None:
    ctx = keyholders["ckks"].public_context()
    ctx.scale_bits = bits
    with pytest.raises(CryptoError, match="scale"):
        scheme_from_public_context(ctx, JOB)


@pytest.mark.parametrize("name", INTEGER)
def test_histogram_with_zero_bit_slots_is_refused(keyholders: dict[str, HEScheme], name: str) -> None:
    s = keyholders[name]
    enc = s.encrypt_gh(np.array([0.5, -0.25, 1.0]), np.array([0.25, 0.25, 0.25]))
    hist = s.bucket_sums(enc, np.array([[0], [1], [1]]), np.arange(3), 2)
    msg = s.serialize(hist, JOB)
    g, _h = s.decrypt_histogram(s.deserialize(msg, JOB))
    np.testing.assert_allclose(g, [[0.5, 0.75]], atol=1e-9)
    msg.slot_bits = 0
    with pytest.raises(WireError, match="slots"):
        s.deserialize(msg, JOB)


def test_slot_packing_refuses_unusable_widths() -> None:
    for bits, slots in ((0, 2), (1, 2), (64, 0), (1 << 20, 2)):
        with pytest.raises(CryptoError, match="outside the usable range"):
            SlotPacking(bits, slots)
    assert SlotPacking(8, 2).unpack(SlotPacking(8, 2).pack([[3], [-4]])) == [[3], [-4]]


@pytest.mark.parametrize("name", INTEGER)
def test_public_key_over_4096_bits_is_refused_before_use(keyholders: dict[str, HEScheme], name: str) -> None:
    ctx = keyholders[name].public_context()
    if name == "paillier":
        n = (1 << 16383) | 1  # a 16,384-bit odd "modulus"
        ctx.public_key = n.to_bytes(2048, "big")
    else:
        ctx.public_key = bytes(70_000)
    with pytest.raises(VflError, match=r"4096-bit ceiling|too large"):
        scheme_from_public_context(ctx, JOB)


def test_heu_array_reader_bounds_its_depth() -> None:
    deep = b"\x91" * 50_000 + b"\x00"
    with pytest.raises(WireError, match="nests deeper"):
        parse_heu_array(deep, 4)
    assert MAX_HEU_DEPTH < 10
    with pytest.raises(WireError, match="claims"):  # a count larger than the bytes that follow
        parse_heu_array(b"\xdd\xff\xff\xff\x00", 4)


@pytest.mark.parametrize("name", [b for b in ("ou", "zpaillier") if b in BACKENDS])
def test_heu_array_with_another_ndim_is_refused(keyholders: dict[str, HEScheme], name: str) -> None:
    s = keyholders[name]
    msg = s.serialize(s.encrypt(np.array([0.5, 1.0])), JOB)
    assert msg.packed[:4] == b"\x94\x02\x01\x02"  # [rows=2, cols=1, ndim=2, items]
    msg.packed = b"\x94\x02\x01\x00" + msg.packed[4:]  # ndim 0 once failed inside heu
    with pytest.raises(WireError, match="unexpected header"):
        s.deserialize(msg, JOB)
