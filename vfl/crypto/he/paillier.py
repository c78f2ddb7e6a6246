"""Paillier on python-paillier (``phe``): the slow, well-known reference backend.

phe is GPL-3.0, so it is an optional extra (``pip install 'vfl[phe]'``) imported lazily here.
Encryption and decryption of large batches run in a process pool over chunks (both cores);
only our own worker processes exchange pickled key material, never a peer.
Homomorphic operations use phe's EncryptedNumber arithmetic on integer encodings (exponent 0);
vfl's own fixed-point layer (vfl.crypto.he.encoding) sits on top.
"""

from __future__ import annotations

import math
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from typing import Any, ClassVar

import numpy as np

from vfl.core.errors import ConfigError, CryptoError, WireError
from vfl.crypto.he.encoding import ceil_div
from vfl.crypto.he.integer import DEFAULT_SCALE_BITS, IntegerScheme, IntOps
from vfl.crypto.he.params import check_paillier_bits, check_peer_paillier_bits
from vfl.wire.v1 import he_pb2

__all__ = ["PaillierScheme", "PheOps", "import_phe"]

POOL_MIN = 256  # batches at least this large go to the process pool


def import_phe() -> Any:
    try:
        import phe  # type: ignore[import-untyped]
    except ImportError as err:  # pragma: no cover - depends on the install
        raise ConfigError(
            "the 'paillier' backend needs python-paillier (phe), which is not installed",
            "pip install 'vfl[phe]' (GPL-3.0), or use he='zpaillier', 'ou' or 'ckks'",
        ) from err
    return phe


def _encrypt_chunk(n: int, ints: list[int]) -> list[int]:
    phe = import_phe()
    pk = phe.PaillierPublicKey(n)
    return [pk.raw_encrypt(m % n) for m in ints]


def _decrypt_chunk(n: int, p: int, q: int, cts: list[int]) -> list[int]:
    phe = import_phe()
    sk = phe.PaillierPrivateKey(phe.PaillierPublicKey(n), p, q)
    half = n // 2
    out = []
    for c in cts:
        m = sk.raw_decrypt(c)
        out.append(m - n if m > half else m)
    return out


def _pooled(fn: Any, args: tuple[Any, ...], items: list[int], workers: int) -> list[int]:
    """Run fn(*args, chunk) over chunks of items on ``workers`` processes (pool shut down after)."""
    if workers <= 1 or len(items) < POOL_MIN:
        return fn(*args, items)
    size = ceil_div(len(items), workers * 4)
    chunks = [items[i : i + size] for i in range(0, len(items), size)]
    ctx = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        parts = list(pool.map(fn, *zip(*[(*args, ch) for ch in chunks], strict=True)))
    return [x for part in parts for x in part]


class PheOps(IntOps):
    """A batch is a list of phe.EncryptedNumber (exponent 0: integers)."""

    def __init__(self, public_key: Any, private_key: Any = None, workers: int | None = None):
        self._phe = import_phe()
        self.pk, self.sk = public_key, private_key
        self.n, self.nsq = public_key.n, public_key.nsquare
        self.key_bits = public_key.n.bit_length()
        # phe refuses |m| > n // 3 as a plaintext; keep |m| < 2^(bits-3) <= n / 4.
        self.capacity_bits = self.key_bits - 3
        self.workers = workers if workers is not None else (os.cpu_count() or 1)
        self._width = (self.nsq.bit_length() + 7) // 8

    @property
    def has_secret_key(self) -> bool:
        return self.sk is not None

    def public_key_bytes(self) -> bytes:
        return self.n.to_bytes((self.n.bit_length() + 7) // 8, "big")

    def _wrap(self, cts: list[int]) -> list[Any]:
        return [self._phe.EncryptedNumber(self.pk, c, 0) for c in cts]

    def encrypt(self, ints: list[int]) -> list[Any]:
        return self._wrap(_pooled(_encrypt_chunk, (self.n,), list(ints), self.workers))

    def decrypt(self, h: list[Any]) -> list[int]:
        if self.sk is None:
            raise CryptoError("this Paillier key has no secret part")
        cts = [e.ciphertext(be_secure=False) for e in h]
        return _pooled(_decrypt_chunk, (self.n, self.sk.p, self.sk.q), cts, self.workers)

    def size(self, h: list[Any]) -> int:
        return len(h)

    def add(self, a: list[Any], b: list[Any]) -> list[Any]:
        return [x + y for x, y in zip(a, b, strict=True)]

    def sub(self, a: list[Any], b: list[Any]) -> list[Any]:
        return [x + (y * -1) for x, y in zip(a, b, strict=True)]

    def add_plain(self, a: list[Any], ints: list[int]) -> list[Any]:
        return [x + int(m) for x, m in zip(a, ints, strict=True)]

    def mul_plain(self, a: list[Any], ints: list[int]) -> list[Any]:
        return [x * int(m) for x, m in zip(a, ints, strict=True)]

    def take(self, a: list[Any], idx: np.ndarray) -> list[Any]:
        return [a[int(i)] for i in idx]

    def matvec(self, a: list[Any], cols: list[list[int]]) -> list[Any]:
        out = []
        for col in cols:
            terms = [x * int(m) for x, m in zip(a, col, strict=True) if m]
            out.append(_total(terms, self))
        return out

    def bucket_sums(self, a: list[Any], rows: np.ndarray, bins: np.ndarray, n_bins: int) -> list:
        out: list[Any] = []
        for f in range(bins.shape[1]):
            groups: list[list[Any]] = [[] for _ in range(n_bins)]
            for r in rows:
                groups[int(bins[r, f])].append(a[int(r)])
            out.extend(_total(g, self) for g in groups)
        return out

    def sum(self, a: list[Any]) -> list[Any]:
        return [_total(list(a), self)]

    def to_wire(self, h: list[Any], msg: he_pb2.CipherBatch) -> None:
        msg.ciphertexts.extend(e.ciphertext(be_secure=False).to_bytes(self._width, "big") for e in h)

    def from_wire(self, msg: he_pb2.CipherBatch) -> list[Any]:
        if msg.packed:
            raise WireError("a phe cipher batch carries ciphertexts one per entry, not packed")
        cts = []
        for raw in msg.ciphertexts:
            if len(raw) != self._width:
                raise WireError(
                    f"a Paillier ciphertext has {len(raw)} bytes, expected {self._width}",
                    "the message was truncated or altered",
                )
            c = int.from_bytes(raw, "big")
            # gcd(c, n) = 1 at the key holder only, as in sfheu.py: a public-key holder never
            # decrypts, so a non-unit under the sender's own key harms only the sender's results
            if not (0 < c < self.nsq) or (self.has_secret_key and math.gcd(c, self.n) != 1):
                raise CryptoError(
                    "received a Paillier ciphertext outside Z*_{n^2} (0 < c < n^2, gcd(c, n) = 1)",
                    "the message was tampered with or made under another key; refuse the round",
                )
            cts.append(c)
        return self._wrap(cts)


def _total(terms: list[Any], ops: PheOps) -> Any:
    if not terms:
        return ops._phe.EncryptedNumber(ops.pk, ops.pk.raw_encrypt(0, 1), 0)
    acc = terms[0]
    for t in terms[1:]:
        acc = acc + t
    return acc


class PaillierScheme(IntegerScheme):
    """Paillier via phe, >= 2048-bit keys."""

    name: ClassVar[str] = "paillier"

    @classmethod
    def generate(
        cls, key_bits: int = 2048, scale_bits: int = DEFAULT_SCALE_BITS, workers: int | None = None
    ) -> PaillierScheme:
        check_paillier_bits(key_bits, cls.name)
        phe = import_phe()
        pk, sk = phe.generate_paillier_keypair(n_length=int(key_bits))
        return cls(PheOps(pk, sk, workers), scale_bits)

    @classmethod
    def _from_public_key(cls, data: bytes, scale_bits: int) -> PaillierScheme:
        phe = import_phe()
        n = int.from_bytes(data, "big")
        check_peer_paillier_bits(n.bit_length(), cls.name)
        if n % 2 == 0:
            raise CryptoError("the received Paillier modulus is even", "refuse this context")
        return cls(PheOps(phe.PaillierPublicKey(n)), scale_bits or DEFAULT_SCALE_BITS)
