"""The one interface every HE backend implements, so protocol code never knows which library
(tenseal, phe, sf-heu) is behind it.

Roles (NVFlare's Encryptor / Adder / Decrypter split): the key holder (active party) calls
``encrypt``/``decrypt``; a passive party holds a public-only scheme built with
``from_public_context`` and may only compute on ciphertexts. Values are real numbers; each backend
owns its fixed-point encoding and raises rather than wrapping on overflow.

Contract for protocol authors (all arrays are numpy float64 unless said otherwise):
- ``encrypt(v)`` -> CipherVector of len(v)
- ``add(a, b)``, ``add_plain(a, v)``, ``mul_plain(a, v)`` elementwise
- ``sum(a)`` -> CipherVector of length 1
- ``dot_plain(a, X)`` with X shape (n, k) -> CipherVector of length k, equal to X.T @ a
- ``encrypt_gh(g, h)`` -> CipherVector of length n carrying the (g, h) pair of each row
- ``bucket_sums(enc_gh, bins, rows, n_bins)`` with bins an (n, F) integer array of bin indices
  and rows the row indices of one tree node -> EncryptedHistogram; on the key holder,
  ``decrypt_histogram`` returns (G, H), each of shape (F, n_bins). Backends pack many bin sums
  into one ciphertext before a histogram travels.
- ``serialize`` / ``deserialize`` go through vfl.wire.v1.he_pb2 messages that carry the scheme
  name, the key fingerprint and the job id; deserialisation checks all three and range-checks.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar, NamedTuple

import numpy as np

__all__ = ["CipherVector", "EncryptedHistogram", "HEScheme"]


class ZeroSpan(NamedTuple):
    """One batch of [[0]]s made in the background: its window (start, end on
    ``time.perf_counter``'s clock, one clock for the machine on Linux) and the CPU seconds it
    took, which are less than the window where it ran only on CPU left idle."""

    start: float
    end: float
    cpu: float


class CipherVector(ABC):
    """An opaque encrypted vector; only its scheme can operate on it."""

    @abstractmethod
    def __len__(self) -> int: ...


class EncryptedHistogram(ABC):
    """Per-feature, per-bin encrypted (sum g, sum h), possibly packed; shape (F, n_bins)."""

    n_features: int
    n_bins: int


class HEScheme(ABC):
    name: ClassVar[str]

    # -- keys ----------------------------------------------------------------------------------
    @property
    @abstractmethod
    def fingerprint(self) -> str:
        """SHA-256 hex of the serialized public key / public context."""

    @property
    @abstractmethod
    def has_secret_key(self) -> bool: ...

    @abstractmethod
    def public_context(self) -> Any:
        """A he_pb2 message a peer can build a public-only scheme from (never the secret key)."""

    @classmethod
    @abstractmethod
    def from_public_context(cls, msg: Any, job_id: str) -> HEScheme:
        """Build a public-only scheme from a peer's message; refuses secret material."""

    # -- key holder ------------------------------------------------------------------------------
    @abstractmethod
    def encrypt(self, values: np.ndarray) -> CipherVector: ...

    @abstractmethod
    def decrypt(self, c: CipherVector) -> np.ndarray: ...

    # -- anyone with the public context -------------------------------------------------------
    @abstractmethod
    def add(self, a: CipherVector, b: CipherVector) -> CipherVector: ...

    @abstractmethod
    def add_plain(self, a: CipherVector, values: np.ndarray) -> CipherVector: ...

    @abstractmethod
    def mul_plain(self, a: CipherVector, values: np.ndarray) -> CipherVector: ...

    @abstractmethod
    def sum(self, a: CipherVector) -> CipherVector: ...

    @abstractmethod
    def dot_plain(self, a: CipherVector, matrix: np.ndarray) -> CipherVector:
        """``matrix.T @ a`` for a plaintext (n, k) matrix: the LR gradient X_p^T [[d]]."""

    # -- SecureBoost -----------------------------------------------------------------------------
    @abstractmethod
    def encrypt_gh(self, g: np.ndarray, h: np.ndarray) -> CipherVector: ...

    @abstractmethod
    def bucket_sums(
        self, enc_gh: CipherVector, bins: np.ndarray, rows: np.ndarray, n_bins: int
    ) -> EncryptedHistogram: ...

    #: encrypt_gh_chunks splits (g, h) into chunks whose bucket sums add up (add_histograms)
    gh_chunks: ClassVar[bool] = False
    #: one ciphertext per row: :meth:`rows` cuts out a row range, and dot products and bucket
    #: sums over row ranges add up to those over the whole vector (the integer schemes)
    per_row: ClassVar[bool] = False

    def rows(self, c: CipherVector, start: int, stop: int) -> CipherVector:
        """Rows [start, stop) of ``c`` (only where :attr:`per_row`)."""
        from vfl.core.errors import CryptoError

        raise CryptoError(f"{self.name} vectors are packed: rows cannot be cut out of them")

    def encrypt_gh_chunks(self, g: np.ndarray, h: np.ndarray, chunk_rows: int) -> Iterator[CipherVector]:
        """[[g, h]] of rows [0, c), [c, 2c), ... under one layout (taken from all rows), so a
        passive's bucket sums over the chunks, added, are those over the whole vector. A scheme
        without ``gh_chunks`` yields one chunk: the whole vector."""
        for item in self.gh_chunk_plan(g, h, chunk_rows):
            yield self.encrypt_gh_planned(item)

    def prepare_zeros(self, lengths: Iterable[int]) -> None:
        """Make the randomness of coming encryptions of these lengths ahead, in the background,
        where the scheme can (the integer schemes); a hint, without effect otherwise."""
        return None

    def discard_zeros(self) -> None:
        """Drop what :meth:`prepare_zeros` made and was not used."""
        return None

    def start_zeros_apart(self, values: int) -> None:
        """Start now the process :meth:`prepare_zeros` will use for encryptions of about ``values``
        values at a time (while the job's PSI runs, so its start-up is off training's path),
        where that pays; a no-op where zeros are not made apart."""
        return None

    @property
    def zero_spans(self) -> list[ZeroSpan]:
        """When the background made its zeros so far (this party's crypto too), in the order
        they finished."""
        return []

    def gh_chunk_plan(self, g: np.ndarray, h: np.ndarray, chunk_rows: int) -> list[Any]:
        """The plaintext side of :meth:`encrypt_gh_chunks`: one plain, picklable item per chunk,
        each encrypted by :meth:`encrypt_gh_planned`, which needs only the public key (so a
        party's executor workers can run it, vfl.executor.he)."""
        return [(np.asarray(g, dtype=np.float64), np.asarray(h, dtype=np.float64))]

    def encrypt_gh_planned(self, item: Any) -> CipherVector:
        """One chunk of :meth:`gh_chunk_plan`, encrypted."""
        g, h = item
        return self.encrypt_gh(g, h)

    def add_histograms(self, a: EncryptedHistogram, b: EncryptedHistogram) -> EncryptedHistogram:
        """a + b, the sums of two disjoint row sets (chunks of one [[g, h]] vector)."""
        from vfl.core.errors import CryptoError

        raise CryptoError(f"{self.name} histograms are not summed across chunks", "send [[g, h]] whole")

    @abstractmethod
    def subtract_histograms(
        self, parent: EncryptedHistogram, child: EncryptedHistogram
    ) -> EncryptedHistogram:
        """parent - child, for histogram subtraction (sibling = parent - built child)."""

    @abstractmethod
    def decrypt_histogram(self, hist: EncryptedHistogram) -> tuple[np.ndarray, np.ndarray]: ...

    # -- wire ------------------------------------------------------------------------------------
    @abstractmethod
    def serialize(self, c: CipherVector | EncryptedHistogram, job_id: str) -> Any: ...

    @abstractmethod
    def deserialize(self, msg: Any, job_id: str) -> CipherVector | EncryptedHistogram: ...
