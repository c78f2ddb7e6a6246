"""Masks that hide values in transit: pairwise score masks between passives and one-time
gradient masks.

Pairwise masks (secure aggregation in the style of Bonawitz et al.): every pair of passives
agrees on a 32-byte seed with X25519 + HKDF-SHA256 (``cryptography``), and each passive adds, per
round, the ChaCha20 keystream of every pair seed (``+`` if its name sorts first, ``-`` otherwise)
to its fixed-point scores in Z_2^64. The masks cancel exactly in the active's sum, and each
single share is uniform in Z_2^64, i.e. perfectly hidden.

Small vectors whose entries span many magnitudes (the L-BFGS Gram matrices: from ||w||^2 down to
products of gradients near convergence) are masked the same way in a wider ring, Z_2^192 with 96
fraction bits (:func:`mask_wide`), three uint64 words per value.
"""

from __future__ import annotations

import hashlib
import math
import os

import numpy as np
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from vfl.core.errors import ProtocolError
from vfl.transport.channel import Channel
from vfl.wire.v1 import lr_pb2

__all__ = [
    "WIDE_FRAC_BITS",
    "WIDE_WORDS",
    "agree_pair_seeds",
    "decode_fixed",
    "decode_wide_sum",
    "encode_fixed",
    "keystream_u64",
    "mask_scores",
    "mask_wide",
    "uniform_mask",
]

_MAX_ABS = 2.0**30  # |score| bound for FRAC_BITS=32 in Z_2^64 (2^62 / 2^32, with margin)
WIDE_FRAC_BITS = 96  # fraction bits of wide values in Z_2^192
WIDE_WORDS = 3  # uint64 words per wide value (little-endian)
_WIDE_BITS = 64 * WIDE_WORDS
_WIDE_MAX_ABS = 2.0**90  # |value| bound in Z_2^192 (2^190 / 2^96, with margin)
_U64 = (1 << 64) - 1


def agree_pair_seeds(channel: Channel, passives: list[str], topic: str) -> dict[str, bytes]:
    """Run X25519 with every other passive over ``channel``; return {peer: 32-byte seed}.

    The seed is bound to the job, the topic and both names, so it is never reused elsewhere.
    """
    others = [p for p in passives if p != channel.me]
    if not others:
        return {}
    sk = X25519PrivateKey.generate()
    pub = sk.public_key().public_bytes_raw()
    for peer in others:
        channel.send(peer, topic, lr_pb2.MaskKey(x25519_public=pub))
    seeds: dict[str, bytes] = {}
    for peer in others:
        msg = channel.recv(peer, topic, lr_pb2.MaskKey)
        if len(msg.x25519_public) != 32:
            raise ProtocolError(f"{peer} sent a {len(msg.x25519_public)}-byte X25519 key, not 32")
        try:  # a low-order point (e.g. all zeros) gives an all-zero secret: cryptography refuses it
            shared = sk.exchange(X25519PublicKey.from_public_bytes(msg.x25519_public))
        except ValueError as exc:
            raise ProtocolError(f"{peer} sent an unusable X25519 key: {exc}") from exc
        a, b = sorted([channel.me, peer])
        info = f"vfl/lr/pair-mask|{channel.job_id}|{topic}|{a}|{b}".encode()
        seeds[peer] = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(shared)
    return seeds


def keystream_u64(seed: bytes, label: str, n: int) -> np.ndarray:
    """``n`` uint64 words of ChaCha20 keystream under ``seed``, domain-separated by ``label``."""
    nonce = hashlib.sha256(label.encode()).digest()[:16]
    enc = Cipher(algorithms.ChaCha20(seed, nonce), mode=None).encryptor()
    return np.frombuffer(enc.update(bytes(8 * n)), dtype="<u8").copy()


def encode_fixed(values: np.ndarray, frac_bits: int) -> np.ndarray:
    """Float scores to two's-complement fixed point in Z_2^64 (raises rather than wraps)."""
    if not np.all(np.isfinite(values)) or np.max(np.abs(values), initial=0.0) >= _MAX_ABS:
        raise ProtocolError(
            "a partial score is not finite or too large to encode",
            "the model diverged: lower the learning rate",
        )
    return np.round(values * 2.0**frac_bits).astype(np.int64).view(np.uint64)


def decode_fixed(words: np.ndarray, frac_bits: int) -> np.ndarray:
    return words.view(np.int64).astype(np.float64) / 2.0**frac_bits


def mask_scores(
    scores: np.ndarray, me: str, seeds: dict[str, bytes], label: str, frac_bits: int
) -> np.ndarray:
    """Fixed-point ``scores`` plus the pairwise masks of this round (uint64, wraps mod 2^64)."""
    out = encode_fixed(scores, frac_bits)
    for peer, seed in seeds.items():
        ks = keystream_u64(seed, label, len(scores))
        out = out + ks if me < peer else out - ks
    return out


def uniform_mask(n: int, bound: float) -> np.ndarray:
    """One-time gradient masks from the OS CSPRNG, |r| < ``bound``, that cancel *exactly*.

    With B = 2^(floor(log2 bound) - 1), each r has a random sign and a magnitude uniform on the
    float64 grid of the binade [B, 2B) (step B * 2^-52), kept 2^-8 B away from its ends. As long as
    |g| < B / 256, ``g + r`` stays in that binade, so its (correctly rounded) decryption is
    ``r + round(g)`` on a grid fixed by B alone, and ``(g + r) - r`` is the same float whatever r
    was: exact HE backends then train bit-identically from run to run (what resuming a killed job
    relies on). Hiding: ``g + r`` is within statistical distance about 1.01 |g| / B of ``r``.
    """
    if not (bound >= 1 and math.isfinite(bound)):
        raise ProtocolError(f"gradient mask bound {bound} is invalid", "use a bound >= 1, e.g. 2^30")
    big = 2.0 ** (math.floor(math.log2(bound)) - 1)
    limit = (1 << 52) - (1 << 45)  # keeps (1 + 2^-8 + k 2^-52) below 2 - 2^-8
    words = np.frombuffer(os.urandom(8 * n), dtype="<u8").copy()
    k = words & np.uint64((1 << 52) - 1)
    while np.any(bad := k >= np.uint64(limit)):  # rejection keeps k uniform
        k[bad] = np.frombuffer(os.urandom(8 * int(bad.sum())), dtype="<u8") & np.uint64((1 << 52) - 1)
    sign = np.where((words >> np.uint64(63)) == 1, -1.0, 1.0)
    return sign * big * (1.0 + 2.0**-8 + k.astype(np.float64) * 2.0**-52)


def mask_wide(values: np.ndarray, me: str, seeds: dict[str, bytes], label: str) -> np.ndarray:
    """``values`` as fixed point in Z_2^192 (96 fraction bits) plus this round's pairwise masks:
    shape (n, 3) uint64, the words of each value little-endian. Raises rather than wraps."""
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(v)) or np.max(np.abs(v), initial=0.0) >= _WIDE_MAX_ABS:
        raise ProtocolError("a value to mask is not finite or too large", "the model diverged")
    ring = 1 << _WIDE_BITS
    out = [round(math.ldexp(float(x), WIDE_FRAC_BITS)) % ring for x in v]
    for peer, seed in seeds.items():
        ks = _words_to_ints(keystream_u64(seed, f"{label}|wide", WIDE_WORDS * len(v)).reshape(-1, WIDE_WORDS))
        sign = 1 if me < peer else -1
        out = [(a + sign * b) % ring for a, b in zip(out, ks, strict=True)]
    return np.array(
        [[(x >> (64 * j)) & _U64 for j in range(WIDE_WORDS)] for x in out], dtype=np.uint64
    ).reshape(len(v), WIDE_WORDS)


def decode_wide_sum(shares: list[np.ndarray]) -> np.ndarray:
    """The float64 sum of wide shares (each (n, 3) uint64): their masks cancel in Z_2^192."""
    ring = 1 << _WIDE_BITS
    total = [0] * (shares[0].shape[0] if shares else 0)
    for share in shares:
        total = [(a + b) % ring for a, b in zip(total, _words_to_ints(share), strict=True)]
    signed = [x - ring if x >= ring >> 1 else x for x in total]
    return np.array([math.ldexp(float(x), -WIDE_FRAC_BITS) for x in signed], dtype=np.float64)


def _words_to_ints(words: np.ndarray) -> list[int]:
    return [sum(int(w) << (64 * j) for j, w in enumerate(row)) for row in words]
