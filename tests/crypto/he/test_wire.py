"""Every ciphertext message is bound to scheme, key and job, and range-checked on receipt."""

from __future__ import annotations

import numpy as np
import pytest

from vfl.core.errors import CryptoError, VflError, WireError
from vfl.crypto.he import HEScheme, scheme_from_public_context
from vfl.wire.v1 import he_pb2

from .conftest import BACKENDS, JOB


def _batch(s: HEScheme, n: int = 6) -> he_pb2.CipherBatch:
    return s.serialize(s.encrypt(np.linspace(-1, 1, n)), JOB)


def test_ciphertext_under_another_key_is_refused(
    backend: str, keyholders: dict[str, HEScheme], other_keys: dict[str, HEScheme]
) -> None:
    msg = _batch(other_keys[backend])
    with pytest.raises(CryptoError, match="not this job's key"):
        keyholders[backend].deserialize(msg, JOB)
    # forging the fingerprint does not help: the ciphertexts do not decrypt to the values
    msg.key_fingerprint = keyholders[backend].fingerprint
    try:
        got = keyholders[backend].decrypt(keyholders[backend].deserialize(msg, JOB))
    except VflError:
        return
    assert not np.allclose(got, np.linspace(-1, 1, 6), atol=1e-3)


def test_wrong_job_and_wrong_scheme_are_refused(backend: str, keyholders: dict[str, HEScheme]) -> None:
    s = keyholders[backend]
    with pytest.raises(WireError, match="for job"):
        s.deserialize(_batch(s), "job-other")
    msg = _batch(s)
    msg.scheme = "ou" if backend != "ou" else "zpaillier"
    with pytest.raises(WireError, match="scheme"):
        s.deserialize(msg, JOB)


def test_truncated_message_is_refused(backend: str, keyholders: dict[str, HEScheme]) -> None:
    s = keyholders[backend]
    msg = _batch(s, 5000 if backend == "ckks" else 6)
    if msg.packed:
        msg.packed = msg.packed[: len(msg.packed) // 2]
    else:
        del msg.ciphertexts[-1]
    with pytest.raises((WireError, CryptoError)):
        s.deserialize(msg, JOB)
    msg2 = _batch(s)
    msg2.count += msg2.per_ciphertext or 1  # claims one more ciphertext than it carries
    with pytest.raises((WireError, CryptoError)):
        s.deserialize(msg2, JOB)


def test_tampered_ciphertext_is_refused(backend: str, keyholders: dict[str, HEScheme]) -> None:
    s = keyholders[backend]
    msg = _batch(s)
    if backend == "paillier":
        width = len(msg.ciphertexts[0])
        msg.ciphertexts[0] = b"\xff" * width  # >= n^2
        with pytest.raises(CryptoError, match="outside"):
            s.deserialize(msg, JOB)
        msg.ciphertexts[0] = b"\x00" * width  # c = 0
        with pytest.raises(CryptoError, match="outside"):
            s.deserialize(msg, JOB)
        n = int.from_bytes(s.public_context().public_key, "big")
        msg.ciphertexts[0] = (n * 5).to_bytes(width, "big")  # gcd(c, n) != 1
        with pytest.raises(CryptoError, match="gcd"):
            s.deserialize(msg, JOB)
        # the unit check is the key holder's (he.md): a public-only party never decrypts
        assert scheme_from_public_context(s.public_context(), JOB).deserialize(msg, JOB) is not None
    elif backend in ("zpaillier", "ou"):
        raw = bytearray(msg.packed)
        # the first ciphertext's magnitude follows a 15-byte header: make it all ones (>= n^2)
        width = 512 if backend == "zpaillier" else 257
        start = raw.index(b"\x91\xda") + 4
        raw[start : start + width] = b"\xff" * width
        msg.packed = bytes(raw)
        # refused either way: as out of range or, when this ciphertext happened to serialise one
        # byte shorter (a leading zero), as a broken layout
        with pytest.raises((CryptoError, WireError), match=r"outside|unexpected layout"):
            s.deserialize(msg, JOB)
        msg.packed = bytes(raw[:-3])
        with pytest.raises(WireError):
            s.deserialize(msg, JOB)
    else:
        raw = bytearray(msg.ciphertexts[0])
        raw[len(raw) // 2 : len(raw) // 2 + 64] = b"\x00\x01" * 32
        msg.ciphertexts[0] = bytes(raw)
        with pytest.raises(CryptoError, match="not valid"):
            s.deserialize(msg, JOB)


def test_public_side_cannot_decrypt(backend: str, keyholders: dict[str, HEScheme]) -> None:
    pub = scheme_from_public_context(keyholders[backend].public_context(), JOB)
    with pytest.raises(CryptoError, match="decrypt"):
        pub.decrypt(pub.encrypt(np.ones(3)))


def test_altered_public_context_is_refused(backend: str, keyholders: dict[str, HEScheme]) -> None:
    ctx = keyholders[backend].public_context()
    ctx.fingerprint = "0" * 64
    with pytest.raises(CryptoError, match="fingerprint"):
        scheme_from_public_context(ctx, JOB)
    ctx2 = keyholders[backend].public_context()
    ctx2.job_id = "job-other"
    with pytest.raises(WireError, match="job"):
        scheme_from_public_context(ctx2, JOB)


@pytest.mark.skipif("ckks" not in BACKENDS, reason="tenseal missing")
def test_context_carrying_a_secret_key_is_refused(keyholders: dict[str, HEScheme]) -> None:
    from vfl.crypto.fingerprints import sha256_hex

    s = keyholders["ckks"]
    ctx = s.public_context()
    ctx.public_key = s._ctx.serialize(save_secret_key=True)  # type: ignore[attr-defined]
    ctx.fingerprint = sha256_hex(b"ckks", ctx.public_key, ctx.galois_keys)
    with pytest.raises(CryptoError, match="SECRET key"):
        scheme_from_public_context(ctx, JOB)


@pytest.mark.skipif("paillier" not in BACKENDS, reason="phe missing")
def test_phe_process_pool_round_trip(
    monkeypatch: pytest.MonkeyPatch, keyholders: dict[str, HEScheme]
) -> None:
    """Large batches go through a process pool over chunks (both cores)."""
    from vfl.crypto.he import paillier

    monkeypatch.setattr(paillier, "POOL_MIN", 4)
    s = keyholders["paillier"]
    v = np.arange(-4.0, 4.0)
    assert np.allclose(s.decrypt(s.encrypt(v)), v)
