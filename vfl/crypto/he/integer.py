"""The Paillier-family scheme (phe Paillier, sf-heu ZPaillier and OU) written once over a small
set of batched integer operations that each library provides (``IntOps``).

Everything above the integer level lives here: fixed-point scales, overflow bounds, (g, h)
packing for SecureBoost, histogram packing before a histogram travels, and the wire checks. A
backend only says how to encrypt, add, multiply by plaintext integers, bucket-sum, and
(de)serialise ciphertexts of its library.
"""

from __future__ import annotations

import threading
import weakref
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np

from vfl.core.errors import CryptoError, WireError
from vfl.core.jobs import check_job_id
from vfl.crypto.fingerprints import sha256_hex
from vfl.crypto.he.base import CipherVector, EncryptedHistogram, HEScheme, ZeroSpan
from vfl.crypto.he.digits import MAX_DIGIT_INPUT_BITS, digit_matvec
from vfl.crypto.he.encoding import (
    FixedPoint,
    SlotPacking,
    bits_of,
    ceil_div,
    check_capacity,
    gh_slot_bits,
    log2_ceil,
    max_slots,
)
from vfl.crypto.he.params import MAX_PUBLIC_KEY_BYTES
from vfl.crypto.he.wire import MAX_CIPHERTEXTS, MAX_SCALE_BITS, check_binding, occupied_flags, stamp
from vfl.crypto.he.zeros import CHILD_MIN_VALUES, ChildZeros, ThreadZeros, ZeroMaker
from vfl.wire.v1 import he_pb2

__all__ = ["IntHistogram", "IntOps", "IntVector", "IntegerScheme"]

DEFAULT_SCALE_BITS = 40
#: dot_plain's plaintext matrix scale: rounding error <= sum|a| * 2^-25 (LR features are
#: standardised), and 5 base-64 digits (|x| < 32) instead of 8 keep the additions down
DOT_SCALE_BITS = 24


class IntOps(ABC):
    """Batched operations on ciphertexts of signed integers; a handle is library-specific."""

    key_bits: int
    capacity_bits: int  # any |m| < 2^capacity_bits decrypts exactly

    @property
    @abstractmethod
    def has_secret_key(self) -> bool: ...

    @abstractmethod
    def public_key_bytes(self) -> bytes: ...

    @abstractmethod
    def encrypt(self, ints: list[int]) -> Any: ...

    @abstractmethod
    def decrypt(self, h: Any) -> list[int]: ...

    @abstractmethod
    def size(self, h: Any) -> int: ...

    @abstractmethod
    def add(self, a: Any, b: Any) -> Any: ...

    @abstractmethod
    def sub(self, a: Any, b: Any) -> Any: ...

    @abstractmethod
    def add_plain(self, a: Any, ints: list[int]) -> Any: ...

    @abstractmethod
    def mul_plain(self, a: Any, ints: list[int]) -> Any: ...

    @abstractmethod
    def take(self, a: Any, idx: np.ndarray) -> Any: ...

    @abstractmethod
    def matvec(self, a: Any, cols: list[list[int]]) -> Any:
        """out[j] = sum_i cols[j][i] * a[i] for each of the k columns."""

    @abstractmethod
    def bucket_sums(self, a: Any, rows: np.ndarray, bins: np.ndarray, n_bins: int) -> Any:
        """Feature-major (F * n_bins) sums of a over ``rows`` grouped by bins[:, f]."""

    def sum(self, a: Any) -> Any:
        n = self.size(a)
        return self.bucket_sums(a, np.arange(n), np.zeros((n, 1), dtype=np.int64), 1)

    @abstractmethod
    def to_wire(self, h: Any, msg: he_pb2.CipherBatch) -> None: ...

    @abstractmethod
    def from_wire(self, msg: he_pb2.CipherBatch) -> Any:
        """Parse and range-check every ciphertext; raise CryptoError/WireError on any doubt."""

    def zero_child(self) -> tuple[str, bytes] | None:
        """(scheme, public key) for a child process to make [[0]]s in
        (:class:`vfl.crypto.he.zeros.ChildZeros`, with :meth:`dump_own` / :meth:`load_own`);
        None: they are made on a thread."""
        return None

    def dump_own(self, h: Any) -> bytes:
        raise NotImplementedError

    def load_own(self, data: bytes) -> Any:
        """A handle from :meth:`dump_own`'s bytes, made by our own child: not range-checked."""
        raise NotImplementedError


@dataclass
class IntVector(CipherVector):
    """Encrypted vector. kind "real": one fixed-point value per ciphertext; "gh": (g, h) packed
    as g + h * 2^slot_bits per ciphertext, each slot good for sums of up to max_terms rows.
    ``fresh``: straight from encrypt (its randomness is the encryptor's own); anything computed
    is re-randomised before it travels (see ``serialize``)."""

    handle: Any
    n: int
    scale_bits: int
    bound_bits: int
    kind: str = "real"
    slot_bits: int = 0
    max_terms: int = 0
    fresh: bool = False

    def __len__(self) -> int:
        return self.n


@dataclass
class IntHistogram(EncryptedHistogram):
    """F * n_bins ciphertexts of packed (G, H) pairs (unpacked: one pair each; packed after the
    wire: bins_per_ciphertext pairs each). ``occupied``: which of the F * n_bins entries (flat,
    row-major) hold rows, None for all; packing carries only those, so a feature with few
    distinct values (a sex, a code, a count) costs the pack, the wire and the decryption of its
    values, not of max_bin bins. An empty bin decrypts to (0, 0), so the flags tell the key
    holder nothing its sums would not."""

    handle: Any
    n_features: int
    n_bins: int
    slot_bits: int
    scale_bits: int
    bins_per_ciphertext: int = 1
    occupied: np.ndarray | None = None

    def carried(self) -> np.ndarray:
        """Flat indices of the entries that travel (every one where ``occupied`` is None)."""
        total = self.n_features * self.n_bins
        return np.arange(total) if self.occupied is None else np.flatnonzero(self.occupied)


class IntegerScheme(HEScheme):
    """HEScheme over an IntOps backend (see module docstring)."""

    name: ClassVar[str] = ""

    def __init__(self, ops: IntOps, scale_bits: int = DEFAULT_SCALE_BITS) -> None:
        self._ops = ops
        self._fp = FixedPoint(int(scale_bits))
        self._fingerprint = sha256_hex(self.name.encode(), ops.public_key_bytes())
        self._zeros: dict[int, deque[Future[Any]]] = {}  # length -> [[0]] vectors, made ahead
        self._zero_lock = threading.Lock()
        self._zero_maker: ZeroMaker | None = None
        self._zero_spans: list[ZeroSpan] = []

    # -- encryptions of zero made ahead ----------------------------------------------------------
    def prepare_zeros(self, lengths: Iterable[int]) -> None:
        """Start encrypting zero vectors of these lengths in the background (where, and why
        there: :mod:`vfl.crypto.he.zeros`). A later encryption of that many values is then one
        plaintext addition, [[m]] = [[0]] * g^m: the randomiser, most of an encryption's cost
        (ZPaillier 97 %, OU half), is made while this party waits for its peers. Each [[0]] is
        used once, so the result is a fresh encryption like any other."""
        ks = [int(k) for k in lengths if k > 0]
        with self._zero_lock:
            if self._zero_maker is None:
                self._zero_maker = self._start_zero_maker(sum(ks))
            maker = self._zero_maker
            if maker is not None:
                for k in ks:
                    self._zeros.setdefault(k, deque()).append(maker.submit(k))

    def start_zeros_apart(self, values: int) -> None:
        child = self._ops.zero_child()
        with self._zero_lock:
            if self._zero_maker is None and child is not None and values >= CHILD_MIN_VALUES:
                self._zero_maker = self._child_maker(child)

    def _start_zero_maker(self, values: int) -> ZeroMaker | None:
        child = self._ops.zero_child()
        if child is None:
            return ThreadZeros(self._ops.encrypt, self._record_zero)
        if values < CHILD_MIN_VALUES:
            return None  # too few to pay for starting a child: encrypt them in full when due
        return self._child_maker(child)

    def _child_maker(self, child: tuple[str, bytes]) -> ZeroMaker | None:
        try:
            maker = ChildZeros(*child, self._ops.load_own, self._record_zero)
        except (OSError, CryptoError):
            return None  # no child here (a frozen or sandboxed process)
        weakref.finalize(self, maker.close)  # a scheme dropped without discard_zeros
        return maker

    def _record_zero(self, span: ZeroSpan) -> None:
        with self._zero_lock:
            self._zero_spans.append(span)

    @property
    def zero_spans(self) -> list[ZeroSpan]:
        with self._zero_lock:
            return list(self._zero_spans)

    def discard_zeros(self) -> None:
        """Drop the zeros not used (the job is over): pending ones are cancelled."""
        with self._zero_lock:
            for q in self._zeros.values():
                for f in q:
                    f.cancel()
            self._zeros.clear()
            maker, self._zero_maker = self._zero_maker, None
        if maker is not None:
            maker.close()

    def _encrypt_ints(self, ints: list[int]) -> Any:
        """[[ints]], from a [[0]] made ahead when one of that length is there (or under way,
        where the maker may be waited for); else encrypted in full."""
        with self._zero_lock:
            q, maker = self._zeros.get(len(ints)), self._zero_maker
            zero = q.popleft() if q and maker is not None and (maker.waits or q[0].done()) else None
        if zero is not None:
            try:
                return self._ops.add_plain(zero.result(), ints)
            except CryptoError:
                pass  # the child stopped: encrypt in full
        return self._ops.encrypt(ints)

    # -- keys ----------------------------------------------------------------------------------
    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    @property
    def has_secret_key(self) -> bool:
        return self._ops.has_secret_key

    @property
    def key_bits(self) -> int:
        return self._ops.key_bits

    @property
    def scale_bits(self) -> int:
        return self._fp.scale_bits

    def public_context(self) -> he_pb2.PublicContext:
        return he_pb2.PublicContext(
            scheme=self.name,
            fingerprint=self._fingerprint,
            key_bits=self._ops.key_bits,
            scale_bits=self._fp.scale_bits,
            public_key=self._ops.public_key_bytes(),
        )

    @classmethod
    def from_public_context(cls, msg: Any, job_id: str) -> HEScheme:
        check_job_id(job_id)
        if not isinstance(msg, he_pb2.PublicContext):
            raise WireError(f"expected a PublicContext, got {type(msg).__name__}")
        if msg.scheme != cls.name:
            raise WireError(f"public context is for {msg.scheme!r}, not {cls.name!r}")
        if msg.job_id and msg.job_id != job_id:
            raise WireError(f"public context is for job {msg.job_id!r}, not {job_id!r}")
        if msg.galois_keys:
            raise WireError(f"a {cls.name} public context must not carry CKKS keys")
        if len(msg.public_key) > MAX_PUBLIC_KEY_BYTES:
            raise WireError(f"a {cls.name} public key of {len(msg.public_key)} bytes is too large")
        scheme = cls._from_public_key(bytes(msg.public_key), int(msg.scale_bits))
        if scheme.fingerprint != msg.fingerprint:
            raise CryptoError(
                "the public context's fingerprint does not match its key",
                "the context was corrupted or altered in transit; ask the key holder to resend",
            )
        if scheme.key_bits != msg.key_bits:
            raise WireError(f"context claims {msg.key_bits}-bit keys, the key has {scheme.key_bits}")
        return scheme

    @classmethod
    @abstractmethod
    def _from_public_key(cls, data: bytes, scale_bits: int) -> IntegerScheme: ...

    # -- helpers --------------------------------------------------------------------------------
    def _vec(self, c: CipherVector | EncryptedHistogram, kind: str = "real") -> IntVector:
        if not isinstance(c, IntVector):
            raise CryptoError(f"{type(c).__name__} is not a {self.name} ciphertext vector")
        if c.kind != kind:
            raise CryptoError(f"this operation needs a {kind!r} vector, got a {c.kind!r} one")
        return c

    def _plain(self, values: np.ndarray, n: int) -> list[int]:
        v = np.asarray(values, dtype=np.float64).ravel()
        if v.size != n:
            raise CryptoError(f"plaintext has {v.size} values, ciphertext vector has {n}")
        return self._fp.encode(v, max_bits=self._ops.capacity_bits)

    def _at_scale(self, a: IntVector, scale_bits: int) -> IntVector:
        if a.scale_bits == scale_bits:
            return a
        diff = scale_bits - a.scale_bits
        bound = a.bound_bits + diff
        check_capacity(bound, self._ops.capacity_bits, "rescaling")
        h = self._ops.mul_plain(a.handle, [1 << diff] * a.n)
        return IntVector(h, a.n, scale_bits, bound)

    # -- key holder ------------------------------------------------------------------------------
    def encrypt(self, values: np.ndarray) -> IntVector:
        ints = self._fp.encode(values, max_bits=self._ops.capacity_bits - 1)
        return IntVector(self._encrypt_ints(ints), len(ints), self._fp.scale_bits, bits_of(ints), fresh=True)

    def _need_secret(self) -> None:
        if not self.has_secret_key:
            raise CryptoError(
                f"this {self.name} scheme holds only the public key and cannot decrypt",
                "only the key holder (the active party) decrypts",
            )

    def decrypt(self, c: CipherVector) -> np.ndarray:
        """Reals for a "real" vector; an (n, 2) array of (g, h) for a "gh" vector."""
        self._need_secret()
        if isinstance(c, IntVector) and c.kind == "gh":
            cols = SlotPacking(c.slot_bits, 2).unpack(self._ops.decrypt(c.handle))
            return np.stack([self._fp.decode(col, c.scale_bits) for col in cols], axis=1)
        a = self._vec(c)
        ints = self._ops.decrypt(a.handle)
        if bits_of(ints) > a.bound_bits:
            raise CryptoError(
                f"a decrypted value exceeds the 2^{a.bound_bits} bound its ciphertext carries",
                "it was made under another key or tampered with; refuse the round",
            )
        return self._fp.decode(ints, a.scale_bits)

    # -- anyone ----------------------------------------------------------------------------------
    def add(self, a: CipherVector, b: CipherVector) -> IntVector:
        x, y = self._vec(a), self._vec(b)
        if x.n != y.n:
            raise CryptoError(f"cannot add encrypted vectors of lengths {x.n} and {y.n}")
        s = max(x.scale_bits, y.scale_bits)
        x, y = self._at_scale(x, s), self._at_scale(y, s)
        bound = max(x.bound_bits, y.bound_bits) + 1
        check_capacity(bound, self._ops.capacity_bits, "an encrypted sum")
        return IntVector(self._ops.add(x.handle, y.handle), x.n, s, bound)

    def add_plain(self, a: CipherVector, values: np.ndarray) -> IntVector:
        x = self._vec(a)
        fp = FixedPoint(x.scale_bits)
        v = np.asarray(values, dtype=np.float64).ravel()
        if v.size != x.n:
            raise CryptoError(f"plaintext has {v.size} values, ciphertext vector has {x.n}")
        ints = fp.encode(v, max_bits=self._ops.capacity_bits)
        bound = max(x.bound_bits, bits_of(ints)) + 1
        check_capacity(bound, self._ops.capacity_bits, "an encrypted sum")
        return IntVector(self._ops.add_plain(x.handle, ints), x.n, x.scale_bits, bound)

    def mul_plain(self, a: CipherVector, values: np.ndarray) -> IntVector:
        x = self._vec(a)
        ints = self._plain(values, x.n)
        bound = x.bound_bits + bits_of(ints)
        check_capacity(bound, self._ops.capacity_bits, "an encrypted product")
        h = self._ops.mul_plain(x.handle, ints)
        return IntVector(h, x.n, x.scale_bits + self._fp.scale_bits, bound)

    def sum(self, a: CipherVector) -> IntVector:
        x = self._vec(a)
        bound = x.bound_bits + log2_ceil(x.n)
        check_capacity(bound, self._ops.capacity_bits, "an encrypted sum")
        return IntVector(self._ops.sum(x.handle), 1, x.scale_bits, bound)

    def dot_plain(self, a: CipherVector, matrix: np.ndarray) -> IntVector:
        x = self._vec(a)
        m = np.asarray(matrix, dtype=np.float64)
        if m.ndim != 2 or m.shape[0] != x.n:
            raise CryptoError(f"dot_plain needs an ({x.n}, k) matrix, got shape {m.shape}")
        n, k = m.shape
        fp = FixedPoint(min(self._fp.scale_bits, DOT_SCALE_BITS))
        flat = fp.encode(m, max_bits=self._ops.capacity_bits)  # row-major
        b = bits_of(flat)
        bound = x.bound_bits + b + log2_ceil(n)
        check_capacity(bound, self._ops.capacity_bits, "an encrypted dot product")
        if 0 < b <= MAX_DIGIT_INPUT_BITS and n * k > 0:
            # additions only (see digits.py); partial sums carry X + 2^b < 2^(b+1)
            check_capacity(bound + 1, self._ops.capacity_bits, "an encrypted dot product")
            xi = np.asarray(flat, dtype=np.int64).reshape(n, k)
            h = digit_matvec(self._ops, x.handle, xi, b)
        else:
            cols = [flat[j::k] for j in range(k)]
            h = self._ops.matvec(x.handle, cols)
        return IntVector(h, k, x.scale_bits + fp.scale_bits, bound)

    # -- SecureBoost -----------------------------------------------------------------------------
    gh_chunks: ClassVar[bool] = True
    per_row: ClassVar[bool] = True

    def rows(self, c: CipherVector, start: int, stop: int) -> IntVector:
        if not isinstance(c, IntVector):
            raise CryptoError(f"{type(c).__name__} is not a {self.name} ciphertext vector")
        if not 0 <= start <= stop <= c.n:
            raise CryptoError(f"rows [{start}, {stop}) are outside a vector of {c.n}")
        return replace(c, handle=self._ops.take(c.handle, np.arange(start, stop)), n=stop - start)

    def _gh_layout(self, g: np.ndarray, h: np.ndarray) -> tuple[list[int], list[int], int]:
        """Fixed-point g, h and the slot width that holds sums of all their rows."""
        gi = self._fp.encode(g, max_bits=self._ops.capacity_bits)
        hi = self._fp.encode(h, max_bits=self._ops.capacity_bits)
        if len(gi) != len(hi):
            raise CryptoError(f"g has {len(gi)} values but h has {len(hi)}")
        slot = gh_slot_bits(max(bits_of(gi), bits_of(hi), 1), len(gi))
        check_capacity(2 * slot, self._ops.capacity_bits, "a packed (g, h) plaintext")
        return gi, hi, slot

    def _gh_vector(self, gi: list[int], hi: list[int], slot: int, max_terms: int) -> IntVector:
        packed = SlotPacking(slot, 2).pack([gi, hi])
        h = self._encrypt_ints(packed)
        return IntVector(h, len(gi), self._fp.scale_bits, 2 * slot, "gh", slot, max_terms, True)

    def encrypt_gh(self, g: np.ndarray, h: np.ndarray) -> IntVector:
        gi, hi, slot = self._gh_layout(g, h)
        return self._gh_vector(gi, hi, slot, len(gi))

    def gh_chunk_plan(self, g: np.ndarray, h: np.ndarray, chunk_rows: int) -> list[Any]:
        """(fixed-point g, h of the chunk, slot width, all rows) per chunk."""
        gi, hi, slot = self._gh_layout(g, h)
        n, step = len(gi), int(chunk_rows) or len(gi)
        return [(gi[a : a + step], hi[a : a + step], slot, n) for a in range(0, n, step)]

    def encrypt_gh_planned(self, item: Any) -> IntVector:
        gi, hi, slot, n = item
        return self._gh_vector(gi, hi, slot, n)

    def bucket_sums(
        self, enc_gh: CipherVector, bins: np.ndarray, rows: np.ndarray, n_bins: int
    ) -> IntHistogram:
        x = self._vec(enc_gh, "gh")
        b, r = check_bucket_args(x.n, bins, rows, n_bins)
        h = self._ops.bucket_sums(x.handle, r, b, int(n_bins))
        occupied = np.zeros(b.shape[1] * int(n_bins), dtype=bool)
        occupied[(b[r] + np.arange(b.shape[1]) * int(n_bins)).ravel()] = True
        return IntHistogram(h, b.shape[1], int(n_bins), x.slot_bits, x.scale_bits, occupied=occupied)

    def subtract_histograms(self, parent: EncryptedHistogram, child: EncryptedHistogram) -> IntHistogram:
        p, c = self._same_layout(parent, child)
        h = self._ops.sub(p.handle, c.handle)
        # the parent's bins: a superset (a bin the child emptied is carried, and decrypts to 0)
        return IntHistogram(h, p.n_features, p.n_bins, p.slot_bits, p.scale_bits, occupied=p.occupied)

    def add_histograms(self, a: EncryptedHistogram, b: EncryptedHistogram) -> IntHistogram:
        x, y = self._same_layout(a, b)
        h = self._ops.add(x.handle, y.handle)
        both = None if x.occupied is None or y.occupied is None else x.occupied | y.occupied
        return IntHistogram(h, x.n_features, x.n_bins, x.slot_bits, x.scale_bits, occupied=both)

    def _same_layout(self, a: EncryptedHistogram, b: EncryptedHistogram) -> tuple[IntHistogram, IntHistogram]:
        """Two unpacked histograms of one shape and slot width (combined before the wire)."""
        x, y = self._hist(a), self._hist(b)
        if (x.n_features, x.n_bins, x.slot_bits) != (y.n_features, y.n_bins, y.slot_bits):
            raise CryptoError("cannot combine histograms of different shapes or packings")
        if x.bins_per_ciphertext != 1 or y.bins_per_ciphertext != 1:
            raise CryptoError(
                "histograms are combined before they are packed for the wire",
                "combine on the party that built them (the passive), then serialize",
            )
        return x, y

    def _hist(self, hist: EncryptedHistogram) -> IntHistogram:
        if not isinstance(hist, IntHistogram):
            raise CryptoError(f"{type(hist).__name__} is not a {self.name} histogram")
        return hist

    def decrypt_histogram(self, hist: EncryptedHistogram) -> tuple[np.ndarray, np.ndarray]:
        self._need_secret()
        x = self._hist(hist)
        per = x.bins_per_ciphertext
        cols = SlotPacking(x.slot_bits, 2 * per).unpack(self._ops.decrypt(x.handle))
        where = x.carried()
        g = [v for grp in zip(*cols[0::2], strict=True) for v in grp][: len(where)]
        h = [v for grp in zip(*cols[1::2], strict=True) for v in grp][: len(where)]
        G, H = np.zeros(x.n_features * x.n_bins), np.zeros(x.n_features * x.n_bins)
        G[where], H[where] = self._fp.decode(g, x.scale_bits), self._fp.decode(h, x.scale_bits)
        shape = (x.n_features, x.n_bins)
        return G.reshape(shape), H.reshape(shape)

    def pack_histogram(self, hist: IntHistogram) -> IntHistogram:
        """Horner-pack many (G, H) pairs per ciphertext: acc = acc * 2^(2S) + pair_j, over the
        occupied entries only (the rest are encryptions of (0, 0))."""
        if hist.bins_per_ciphertext != 1:
            return hist
        width = 2 * hist.slot_bits
        per = max_slots(width, self._ops.capacity_bits)
        if hist.occupied is not None and not hist.occupied.any():
            hist = replace(hist, occupied=None)  # no row at all: carry every (0, 0), not nothing
        where = hist.carried()
        total = len(where)
        groups = ceil_div(total, per)
        per = ceil_div(total, groups)  # balance groups; fewer padded steps
        acc = None
        for j in range(per - 1, -1, -1):
            idx = np.arange(groups) * per + j
            valid = idx < total
            term = self._ops.take(hist.handle, where[np.minimum(idx, total - 1)])
            if not valid.all():
                term = self._ops.mul_plain(term, [int(v) for v in valid])
            if acc is None:
                acc = term
            else:
                acc = self._ops.add(self._ops.mul_plain(acc, [1 << width] * groups), term)
        return replace(hist, handle=acc, bins_per_ciphertext=per)

    # -- wire ------------------------------------------------------------------------------------
    def serialize(self, c: CipherVector | EncryptedHistogram, job_id: str) -> Any:
        if isinstance(c, IntHistogram):
            packed = self.pack_histogram(c)
            carried = len(packed.carried())
            batch = self._batch(
                self._rerandomise(packed.handle), ceil_div(carried, packed.bins_per_ciphertext), job_id
            )
            batch.kind = "hist"
            msg = he_pb2.EncryptedHistogramMsg(
                n_features=c.n_features,
                n_bins=c.n_bins,
                slot_bits=c.slot_bits,
                bins_per_ciphertext=packed.bins_per_ciphertext,
                scale_bits=c.scale_bits,
                g=batch,
            )
            if carried < c.n_features * c.n_bins:
                assert packed.occupied is not None
                msg.occupied = np.packbits(packed.occupied).tobytes()
            return stamp(msg, self.name, self._fingerprint, job_id)
        x = self._vec(c, c.kind if isinstance(c, IntVector) else "real")
        batch = self._batch(x.handle if x.fresh else self._rerandomise(x.handle), x.n, job_id)
        batch.kind, batch.scale_bits, batch.bound_bits = x.kind, x.scale_bits, x.bound_bits
        batch.slot_bits, batch.max_terms = x.slot_bits, x.max_terms
        return batch

    def _rerandomise(self, handle: Any) -> Any:
        """Add fresh encryptions of zero. A computed ciphertext's randomness is a product of the
        inputs' randomness raised to the sender's plaintexts (X, bin membership); the key holder
        can recover randomness, so it must not see that product."""
        return self._ops.add(handle, self._ops.encrypt([0] * self._ops.size(handle)))

    def _batch(self, handle: Any, count: int, job_id: str) -> he_pb2.CipherBatch:
        msg = he_pb2.CipherBatch(count=count, n_ciphertexts=self._ops.size(handle))
        self._ops.to_wire(handle, msg)
        return stamp(msg, self.name, self._fingerprint, job_id)

    def deserialize(self, msg: Any, job_id: str) -> CipherVector | EncryptedHistogram:
        if isinstance(msg, he_pb2.EncryptedHistogramMsg):
            check_binding(msg, self.name, self._fingerprint, job_id, "histogram")
            total = msg.n_features * msg.n_bins
            per = msg.bins_per_ciphertext
            if msg.slot_bits < 2 or msg.scale_bits > MAX_SCALE_BITS:
                raise WireError(
                    f"histogram of {msg.slot_bits}-bit slots at scale 2^{msg.scale_bits} is unusable"
                )
            if not (total and per and 2 * msg.slot_bits * per <= self._ops.capacity_bits):
                raise WireError(
                    f"histogram layout ({msg.n_features}x{msg.n_bins}, {per} bins of "
                    f"2x{msg.slot_bits} bits per ciphertext) does not fit this key"
                )
            occupied = occupied_flags(msg.occupied, total) if msg.occupied else None
            carried = total if occupied is None else int(occupied.sum())
            if msg.g.count != ceil_div(carried, per):
                raise WireError(
                    f"histogram carries {msg.g.count} ciphertexts for {carried} bins, "
                    f"expected {ceil_div(carried, per)}"
                )
            h = self._unbatch(msg.g, job_id)
            return IntHistogram(h, msg.n_features, msg.n_bins, msg.slot_bits, msg.scale_bits, per, occupied)
        if not isinstance(msg, he_pb2.CipherBatch):
            raise WireError(f"expected a CipherBatch or EncryptedHistogramMsg, got {type(msg).__name__}")
        h = self._unbatch(msg, job_id)
        cap = self._ops.capacity_bits
        if msg.kind == "real" and msg.bound_bits <= cap:
            return IntVector(h, msg.count, msg.scale_bits, msg.bound_bits)
        if (
            msg.kind == "gh"
            and 2 <= msg.slot_bits
            and 2 * msg.slot_bits <= cap
            and (msg.max_terms >= msg.count)
        ):
            return IntVector(
                h, msg.count, msg.scale_bits, 2 * msg.slot_bits, "gh", msg.slot_bits, msg.max_terms
            )
        raise WireError(
            f"cipher batch of kind {msg.kind!r} has an unusable layout "
            f"(bound {msg.bound_bits}, slot {msg.slot_bits} bits)"
        )

    def _unbatch(self, msg: he_pb2.CipherBatch, job_id: str) -> Any:
        check_binding(msg, self.name, self._fingerprint, job_id, "ciphertext batch")
        if not 0 < msg.count <= MAX_CIPHERTEXTS or msg.scale_bits > MAX_SCALE_BITS:
            raise WireError(f"cipher batch claims {msg.count} values at scale 2^{msg.scale_bits}")
        h = self._ops.from_wire(msg)
        if self._ops.size(h) != msg.n_ciphertexts or (msg.kind != "hist" and msg.n_ciphertexts != msg.count):
            raise WireError(
                f"cipher batch carries {self._ops.size(h)} ciphertexts for {msg.count} values",
                "the message was truncated or altered; ask the sender to resend",
            )
        return h


def check_bucket_args(
    n: int, bins: np.ndarray, rows: np.ndarray, n_bins: int
) -> tuple[np.ndarray, np.ndarray]:
    """Validate (n, F) bin indices in [0, n_bins) and node row indices in [0, n)."""
    b = np.asarray(bins)
    r = np.asarray(rows)
    if b.ndim != 2 or b.shape[0] != n or not np.issubdtype(b.dtype, np.integer):
        raise CryptoError(f"bins must be an integer ({n}, F) array, got {b.dtype} {b.shape}")
    if r.ndim != 1 or (r.size and not np.issubdtype(r.dtype, np.integer)):
        raise CryptoError(f"rows must be a 1-d integer array, got {r.dtype} {r.shape}")
    if n_bins < 1 or (b.size and (b.min() < 0 or b.max() >= n_bins)):
        raise CryptoError(f"bin indices must lie in [0, {n_bins})")
    if r.size and (r.min() < 0 or r.max() >= n):
        raise CryptoError(f"row indices must lie in [0, {n})")
    return b.astype(np.int64), np.unique(r.astype(np.int64))
