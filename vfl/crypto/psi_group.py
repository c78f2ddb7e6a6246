"""The prime-order group for PSI: ristretto255 through libsodium (the ``rbcl`` bundle).

Nothing here implements curve arithmetic: hashing to the group, scalar multiplication, scalar
products and inversion are libsodium's. This module only batches them over numpy arrays of
32-byte encodings and spreads a batch over threads (rbcl's cffi calls release the GIL, so two
threads use both cores without pickling anything between processes).
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import rbcl

from vfl.core.errors import ProtocolError

__all__ = ["POINT_BYTES", "SCALAR_BYTES", "PsiGroup", "Scalar", "keys_as_points", "points_as_keys"]

POINT_BYTES = rbcl.crypto_core_ristretto255_BYTES
SCALAR_BYTES = rbcl.crypto_core_ristretto255_SCALARBYTES
_MIN_PARALLEL = 2048


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


class PsiGroup:
    """Batched group operations on (n, 32) uint8 arrays, using ``threads`` cores."""

    def __init__(self, threads: int | None = None):
        self.threads = max(1, threads or min(2, os.cpu_count() or 1))
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="psi-group")
        self._count_lock = threading.Lock()
        self.scalar_mults = 0  # counted for the benchmark's floor
        self.hashes = 0

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def __enter__(self) -> PsiGroup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def hash_to_group(self, ids: Sequence[str], domain: bytes) -> np.ndarray:
        """H(x) = ristretto255_from_hash(SHA-512(len(domain) || domain || utf8(x)))."""
        prefix = len(domain).to_bytes(2, "big") + domain

        def work(chunk: Sequence[str]) -> bytes:
            fh, sha = rbcl.crypto_core_ristretto255_from_hash, hashlib.sha512
            return b"".join(fh(sha(prefix + x.encode("utf-8")).digest()) for x in chunk)

        with self._count_lock:
            self.hashes += len(ids)
        return self._map(work, list(ids), len(ids))

    def exp(self, points: np.ndarray, k: Scalar) -> np.ndarray:
        """Raise every point to the scalar ``k``; an invalid point stops the protocol."""
        data = np.ascontiguousarray(points, dtype=np.uint8).tobytes()
        kb = k.to_bytes()

        def work(chunk: bytes) -> bytes:
            sm = rbcl.crypto_scalarmult_ristretto255
            try:
                return b"".join(sm(kb, chunk[i : i + POINT_BYTES]) for i in range(0, len(chunk), POINT_BYTES))
            except RuntimeError as exc:  # libsodium refuses non-canonical or identity points
                raise ProtocolError(
                    "a peer sent a value that is not a valid ristretto255 group element",
                    "the peer's software or data is corrupted; stop and check its logs",
                ) from exc

        n = len(data) // POINT_BYTES
        with self._count_lock:
            self.scalar_mults += n
        return self._map(work, data, n, itemsize=POINT_BYTES)

    def _map(self, work, items, n: int, itemsize: int = 1) -> np.ndarray:  # type: ignore[no-untyped-def]
        if n < _MIN_PARALLEL or self.threads == 1:
            parts = [work(items)]
        else:
            step = -(-n // self.threads)
            chunks = [items[i * step * itemsize : (i + 1) * step * itemsize] for i in range(self.threads)]
            parts = list(self._pool.map(work, chunks))
        return np.frombuffer(b"".join(parts), dtype=np.uint8).reshape(n, POINT_BYTES)


def points_as_keys(points: np.ndarray) -> np.ndarray:
    """View an (n, 32) point array as n fixed 32-byte keys that sort and compare bytewise."""
    return np.ascontiguousarray(points, dtype=np.uint8).view(f"S{POINT_BYTES}").ravel()


def keys_as_points(keys: np.ndarray) -> np.ndarray:
    """The inverse of :func:`points_as_keys`: back to an (n, 32) uint8 array."""
    return np.ascontiguousarray(keys).view(np.uint8).reshape(len(keys), POINT_BYTES)
