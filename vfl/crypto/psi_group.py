"""The prime-order group for PSI: ristretto255 through libsodium (the ``rbcl`` bundle).

Nothing here implements curve arithmetic: hashing to the group, scalar multiplication, scalar
products and inversion are libsodium's. This module only batches them over concatenated
32-byte encodings; spreading a batch over cores (threads, or a party's Ray workers) is the job of
``vfl.executor`` (rbcl's cffi calls release the GIL, so threads use every core).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import rbcl

from vfl.core.errors import ProtocolError

__all__ = [
    "POINT_BYTES",
    "SCALAR_BYTES",
    "Scalar",
    "as_points",
    "exp_batch",
    "hash_batch",
    "hash_prefix",
    "keys_as_points",
    "points_as_keys",
]

POINT_BYTES = rbcl.crypto_core_ristretto255_BYTES
SCALAR_BYTES = rbcl.crypto_core_ristretto255_SCALARBYTES


class Scalar:
    """A secret exponent (a non-zero scalar mod the group order); never printed."""

    __slots__ = ("_b",)

    def __init__(self, value: bytes):
        if len(value) != SCALAR_BYTES:
            raise ProtocolError(f"a scalar must be {SCALAR_BYTES} bytes, got {len(value)}")
        if value == bytes(SCALAR_BYTES):
            raise ProtocolError("the zero scalar is not a valid exponent")
        self._b = bytes(value)

    @classmethod
    def random(cls) -> Scalar:
        return cls(rbcl.crypto_core_ristretto255_scalar_random())

    def __mul__(self, other: Scalar) -> Scalar:
        return Scalar(rbcl.crypto_core_ristretto255_scalar_mul(self._b, other._b))

    def inverse(self) -> Scalar:
        return Scalar(rbcl.crypto_core_ristretto255_scalar_invert(self._b))

    def to_bytes(self) -> bytes:
        return self._b

    def __repr__(self) -> str:
        return "Scalar(<secret>)"


def hash_prefix(domain: bytes) -> bytes:
    """The bytes every hashed ID starts with: the domain, length-prefixed."""
    return len(domain).to_bytes(2, "big") + domain


def hash_batch(ids: Sequence[str], prefix: bytes) -> bytes:
    """H(x) = ristretto255_from_hash(SHA-512(prefix || utf8(x))) for each ID, concatenated.

    A plain function of plain values, so an executor can run it on a thread or a worker process
    of the party's own cluster (protocols/specs/psi.md)."""
    fh, sha = rbcl.crypto_core_ristretto255_from_hash, hashlib.sha512
    return b"".join([fh(sha(prefix + x.encode("utf-8")).digest()) for x in ids])


def exp_batch(points: bytes, k: bytes) -> bytes:
    """Every 32-byte point raised to the scalar ``k``; an invalid point stops the protocol."""
    sm = rbcl.crypto_scalarmult_ristretto255
    try:
        return b"".join([sm(k, points[i : i + POINT_BYTES]) for i in range(0, len(points), POINT_BYTES)])
    except RuntimeError as exc:  # libsodium refuses non-canonical or identity points
        raise ProtocolError(
            "a peer sent a value that is not a valid ristretto255 group element",
            "the peer's software or data is corrupted; stop and check its logs",
        ) from exc


def as_points(data: bytes) -> np.ndarray:
    """Concatenated 32-byte encodings as an (n, 32) uint8 array (no copy)."""
    return np.frombuffer(data, dtype=np.uint8).reshape(len(data) // POINT_BYTES, POINT_BYTES)


def points_as_keys(points: np.ndarray) -> np.ndarray:
    """View an (n, 32) point array as n fixed 32-byte keys that sort and compare bytewise."""
    return np.ascontiguousarray(points, dtype=np.uint8).view(f"S{POINT_BYTES}").ravel()


def keys_as_points(keys: np.ndarray) -> np.ndarray:
    """The inverse of :func:`points_as_keys`: back to an (n, 32) uint8 array."""
    return np.ascontiguousarray(keys).view(np.uint8).reshape(len(keys), POINT_BYTES)
