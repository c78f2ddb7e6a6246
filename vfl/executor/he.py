"""The HE bulk work of SecureBoost and LR on a party's executor: the label holder's [[g, h]]
encryption and a passive's bucket sums (one task per [[g, h]] chunk), and an LR passive's
X_p^T [[d]] (one task per row shard).

With the local executor (the default) these are the scheme's own calls in this process: heu's
and tenseal's pools already use every core here. On a distributed executor (Ray) every chunk is a
task on the party's own workers. The label holder's workers get its *public* context only
(encryption needs nothing more; the secret key never leaves the driver). A passive's workers get
the label holder's public context and the chunks the driver has already parsed and range-checked:
what reaches the workers is the driver's own objects, inside the party's own cluster, never a
peer's bytes to unpickle. Results come back in chunk order and are added in that order, as the
local path adds them, so both paths give the same ciphertexts (and the same model).

A scheme that packs many rows into one ciphertext (CKKS: ``per_row`` is false) runs locally, as
does the label holder's LR residual encryption (heu cannot join encrypted arrays: its driver's
cores encrypt [[d]] whole).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from vfl.crypto.he.base import CipherVector, EncryptedHistogram, HEScheme
from vfl.executor.base import Executor, Pending, Shared
from vfl.executor.cohosted import cohosted
from vfl.wire.v1 import he_pb2

__all__ = ["ChunkSums", "HEWork"]


def _public_scheme(ctx: tuple[type[HEScheme], bytes, str]) -> HEScheme:
    """On a worker: the public-only scheme, rebuilt (and checked) from the context's bytes (the
    scheme's class travels by name: its module is imported there, no backend is named here)."""
    cls, data, job_id = ctx
    return cls.from_public_context(he_pb2.PublicContext.FromString(data), job_id)


def _encrypt(item: Any, scheme: HEScheme) -> CipherVector:
    return scheme.encrypt_gh_planned(item)


def _dot_plain(shard: tuple[CipherVector, np.ndarray], scheme: HEScheme) -> CipherVector:
    enc, x = shard
    return scheme.dot_plain(enc, x)


def _bucket_sums(
    task: tuple[np.ndarray | None, int], chunk: tuple[CipherVector, np.ndarray], scheme: HEScheme
) -> EncryptedHistogram:
    rows, n_bins = task
    enc, bins = chunk
    return scheme.bucket_sums(enc, bins, np.arange(len(enc)) if rows is None else rows, n_bins)


class HEWork:
    """A party's HE scheme together with where its bulk work runs."""

    def __init__(self, scheme: HEScheme, executor: Executor | None, job_id: str):
        self.scheme = scheme
        spread = executor is not None and executor.distributed and scheme.per_row
        self.executor = executor if spread else None
        #: background work ahead (the label holder's [[0]]s) pays: the scheme's own calls run here,
        #: in a process of this party's alone (vfl.executor.cohosted). Where all parties share one
        #: interpreter heu's calls keep both cores busy, so even [[0]]s of a child process at
        #: idle priority found little room: the default OU fit ran 7.3 s with them, 6.9 s without
        self.ahead = self.executor is None and not cohosted()
        self._ctx: Shared | None = None
        if self.executor is not None:
            data = scheme.public_context().SerializeToString()
            self._ctx = self.executor.share((type(scheme), data, job_id), load=_public_scheme)

    def encrypt_gh_chunks(self, g: np.ndarray, h: np.ndarray, chunk_rows: int) -> Iterator[CipherVector]:
        """:meth:`HEScheme.encrypt_gh_chunks`, every chunk a task when distributed (all started at
        once; yielded in order as they finish, so the first is sent while the rest encrypt)."""
        if self.executor is None or self._ctx is None:
            yield from self.scheme.encrypt_gh_chunks(g, h, chunk_rows)
            return
        ctx, ex = self._ctx, self.executor
        pending = [ex.submit(_encrypt, item, ctx) for item in self.scheme.gh_chunk_plan(g, h, chunk_rows)]
        for p in pending:
            yield p.result()

    def dot_plain(self, enc: CipherVector, x: np.ndarray) -> CipherVector:
        """:meth:`HEScheme.dot_plain` (``x.T @ [[enc]]``), a task per row shard when distributed;
        the shards' products, added in order, are the same ciphertexts as the whole one."""
        ex, ctx = self.executor, self._ctx
        shards = ex.split(len(enc)) if ex is not None else []
        if ex is None or ctx is None or len(shards) == 1:
            return self.scheme.dot_plain(enc, x)
        pending = [
            ex.submit(_dot_plain, (self.scheme.rows(enc, s.start, s.stop), x[s]), ctx, affinity=i)
            for i, s in enumerate(shards)
        ]
        total = pending[0].result()
        for p in pending[1:]:
            total = self.scheme.add(total, p.result())
        return total

    def chunk_sums(self, n_bins: int) -> ChunkSums:
        return ChunkSums(self, n_bins)


class ChunkSums:
    """One tree's [[g, h]] at a passive, chunk by chunk, and bucket sums over its rows. The root's
    histogram (every row of the sample) is started as each chunk arrives."""

    def __init__(self, work: HEWork, n_bins: int):
        self.scheme, self.executor, self._ctx = work.scheme, work.executor, work._ctx
        self.n_bins = n_bins
        self.chunks: list[CipherVector] = []
        self._bins: list[np.ndarray] = []
        self._shared: list[Shared] = []
        self._root: list[Pending[EncryptedHistogram]] = []
        self._root_sum: EncryptedHistogram | None = None

    def add(self, enc: CipherVector, bins: np.ndarray) -> None:
        """Take the next chunk (rows in order) and the bins of its rows."""
        c = len(self.chunks)
        self.chunks.append(enc)
        self._bins.append(bins)
        if self.executor is None or self._ctx is None:
            part = self.scheme.bucket_sums(enc, bins, np.arange(len(enc)), self.n_bins)
            self._root_sum = (
                part if self._root_sum is None else self.scheme.add_histograms(self._root_sum, part)
            )
            return
        shared = self.executor.share((enc, bins))
        self._shared.append(shared)
        self._root.append(
            self.executor.submit(_bucket_sums, (None, self.n_bins), shared, self._ctx, affinity=c)
        )

    def root(self) -> EncryptedHistogram | None:
        """The histogram of every row of every chunk taken."""
        if self._root:
            self._root_sum = self._fold([p.result() for p in self._root])
            self._root = []
        return self._root_sum

    def sums(self, parts: list[tuple[int, np.ndarray]]) -> EncryptedHistogram | None:
        """The histogram of rows given as (chunk, row indices within the chunk), chunks ascending."""
        if self.executor is None or self._ctx is None:
            return self._fold(
                [
                    self.scheme.bucket_sums(self.chunks[c], self._bins[c], rows, self.n_bins)
                    for c, rows in parts
                ]
            )
        ex, ctx = self.executor, self._ctx
        pending = [
            ex.submit(_bucket_sums, (rows, self.n_bins), self._shared[c], ctx, affinity=c)
            for c, rows in parts
        ]
        return self._fold([p.result() for p in pending])

    def _fold(self, hists: list[EncryptedHistogram]) -> EncryptedHistogram | None:
        total: EncryptedHistogram | None = None
        for part in hists:
            total = part if total is None else self.scheme.add_histograms(total, part)
        return total
