"""Two-party PSI over lists on disk: the same messages as :mod:`vfl.protocols.psi.pair`, in a
memory budget that does not grow with the number of IDs (protocols/specs/psi.md, "Streaming").

Every list lives in a private temporary folder (mode 0700, removed at the end, even on error:
patient IDs are sensitive) as buckets of fixed-width records, and only one bucket or one
32,768-point batch is in memory at a time:

1. check: the IDs are read batch by batch (text, non-empty, each once: duplicates by a digest,
   bucketed by its first bytes), keeping the widest ID and a bounded sample of IDs;
2. secret order: each row goes to a uniformly random bucket and each bucket is shuffled when it
   is sent (a uniform permutation: sorting by independent random keys), hashed and raised to k;
3. both lists under K are bucketed by their first two bytes and intersected bucket by bucket;
4. the shared rows are range-partitioned by ID text (splitters from the sample), each part
   sorted, and the rows written out in the agreed order.

The result is the in-memory path's, row for row (tests/protocols/psi/test_psi_stream.py).
"""

from __future__ import annotations

import hashlib
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from vfl.core.errors import DataError, ProtocolError
from vfl.crypto.psi_group import POINT_BYTES, Scalar
from vfl.executor.base import Executor
from vfl.protocols.psi.lists import recv_batches, send_batch
from vfl.protocols.psi.stages import BATCH, domain_for
from vfl.transport.channel import Channel
from vfl.wire.v1 import psi_pb2

__all__ = ["BUCKET_ROWS", "IdBatches", "StreamedPsi", "id_batches", "stream_pair_psi"]

BUCKET_ROWS = 1 << 18  # records per bucket on average: ~10-20 MB in memory at once
_MAX_BUCKETS = 512  # open files per bucket set; beyond 134M rows the buckets just grow
_SAMPLE = 4096  # IDs kept to choose the splitters of the final sort
_DIGEST = 16

IdBatches = Callable[[], Iterable[Iterable[str]]]
"""A re-readable source: each call yields the party's IDs again, batch by batch, in row order."""


def id_batches(ids: Iterable[str] | np.ndarray, batch: int = BATCH) -> IdBatches:
    """An in-memory list as an :data:`IdBatches` source (tests, and ``run_psi`` above the
    streaming threshold)."""
    arr = np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids, dtype=object)

    def read() -> Iterator[np.ndarray]:
        for i in range(0, len(arr), batch):
            yield arr[i : i + batch]

    return read


@dataclass(frozen=True)
class StreamedPsi:
    """Like :class:`~vfl.protocols.psi.session.PsiResult`; ``rows`` is read from ``rows_path`` (a
    .npy file) lazily when one was given, so the caller can page through millions of rows."""

    rows: np.ndarray
    size: int
    own_size: int
    seconds: float
    scalar_mults: int
    hashes: int
    stages: dict[str, float] = field(default_factory=dict)
    rows_path: Path | None = None


class _Buckets:
    """``count`` append-only files of fixed-width records, read back one bucket at a time."""

    def __init__(self, folder: Path, name: str, count: int, dtype: np.dtype[Any]):
        self.dtype, self.count = dtype, count
        self.paths = [folder / f"{name}-{i:04d}.bin" for i in range(count)]
        self._files: list[BinaryIO] | None = [open(p, "wb") for p in self.paths]

    def add(self, which: np.ndarray, records: np.ndarray) -> None:
        assert self._files is not None, "bucket set already closed for writing"
        order = np.argsort(which, kind="stable")
        which, records = which[order], records[order]
        cuts = np.searchsorted(which, np.arange(self.count + 1))
        for b in np.flatnonzero(np.diff(cuts)):
            self._files[b].write(records[cuts[b] : cuts[b + 1]].tobytes())

    def done(self) -> None:
        for f in self._files or []:
            f.close()
        self._files = None

    def read(self, b: int) -> np.ndarray:
        out = np.fromfile(self.paths[b], dtype=self.dtype)
        self.paths[b].unlink()  # one bucket read is one bucket gone: the folder shrinks as we go
        return out


def _bucket_count(n: int, bucket_rows: int) -> int:
    return int(min(_MAX_BUCKETS, max(1, -(-n // bucket_rows))))


def _prefix_bucket(keys_u8: np.ndarray, count: int) -> np.ndarray:
    """Bucket of each point by its first two bytes: monotone, so buckets in order are bytes in
    order (points are uniform, so the buckets are even)."""
    top = keys_u8[:, 0].astype(np.int64) << 8 | keys_u8[:, 1]
    return (top * count) >> 16


def _as_text(batch: Iterable[str], start: int) -> np.ndarray:
    arr = np.asarray(list(batch), dtype=object)
    if len(arr) and not all(isinstance(x, str) for x in arr):
        bad = [start + i for i, x in enumerate(arr) if not isinstance(x, str)]
        raise DataError(f"{len(bad)} IDs are not text (first rows: {bad[:5]})", "clean the ID column")
    return arr


class _Run:
    """One party's streamed run: its temporary folder, sizes and the secret order."""

    def __init__(self, folder: Path, source: IdBatches, bucket_rows: int, rng: np.random.Generator):
        self.folder, self.source, self.bucket_rows, self.rng = folder, source, bucket_rows, rng
        self.n, self.width = 0, 1
        self.sample = np.empty(0, dtype=object)
        self._sample_keys = np.empty(0)

    def _keep_sample(self, arr: np.ndarray) -> None:
        """Bottom-k sampling: the IDs with the smallest of independent random keys are a uniform
        sample of every ID seen, kept in bounded memory and vectorised."""
        keys = np.concatenate([self._sample_keys, self.rng.random(len(arr))])
        pool = np.concatenate([self.sample, arr])
        keep = np.argsort(keys)[:_SAMPLE]
        self._sample_keys, self.sample = keys[keep], pool[keep]

    # 1. check ---------------------------------------------------------------------------------
    def check(self) -> None:
        """Text, non-empty, each once; the widest ID (in UTF-8) and a uniform sample of IDs."""
        digests = _Buckets(self.folder, "dup", _MAX_BUCKETS, np.dtype([("d", f"S{_DIGEST}"), ("row", "<i8")]))
        empty: list[int] = []
        for batch in self.source():
            arr = _as_text(batch, self.n)
            enc = [x.encode("utf-8") for x in arr]
            empty += [self.n + i for i, b in enumerate(enc) if not b or b.endswith(b"\0")][: 5 - len(empty)]
            self.width = max(self.width, max(map(len, enc), default=1))
            rec = np.empty(len(enc), digests.dtype)
            rec["d"] = [hashlib.blake2b(b, digest_size=_DIGEST).digest() for b in enc]
            rec["row"] = np.arange(self.n, self.n + len(enc))
            first = np.frombuffer(rec["d"].tobytes(), np.uint8).reshape(-1, _DIGEST)
            digests.add(_prefix_bucket(first, digests.count), rec)
            self._keep_sample(arr)
            self.n += len(enc)
        digests.done()
        if empty:
            raise DataError(
                f"IDs are empty or end in a NUL character (first rows: {empty[:5]})", "clean the ID column"
            )
        dup_rows: list[int] = []
        for b in range(digests.count):
            rec = digests.read(b)
            rec = rec[np.argsort(rec["d"], kind="stable")]
            same = np.flatnonzero(rec["d"][1:] == rec["d"][:-1])
            dup_rows += rec["row"][same + 1][: 5 - len(dup_rows)].tolist()
        if dup_rows:
            raise DataError(
                f"IDs occur more than once (first repeated rows: {sorted(dup_rows)[:5]})",
                "PSI needs each ID once: de-duplicate the file first",
            )

    @property
    def rec(self) -> np.dtype[Any]:
        return np.dtype([("row", "<i8"), ("id", f"S{self.width}")])

    # 2. the secret order ----------------------------------------------------------------------
    def shuffled(self) -> Iterator[np.ndarray]:
        """(row, id) records in a uniformly random order, one BATCH-sized block at a time."""
        order = _Buckets(self.folder, "order", _bucket_count(self.n, self.bucket_rows), self.rec)
        start = 0
        for batch in self.source():
            arr = np.asarray(list(batch), dtype=object)
            rec = np.empty(len(arr), self.rec)
            rec["row"] = np.arange(start, start + len(arr))
            rec["id"] = [x.encode("utf-8") for x in arr]
            order.add(self.rng.integers(order.count, size=len(arr)), rec)
            start += len(arr)
        order.done()
        if start != self.n:
            raise DataError(
                f"the ID source gave {start} IDs on its second reading and {self.n} on its first",
                "do not change the data files while the job runs",
            )
        pending = np.empty(0, self.rec)
        for b in range(order.count):
            part = order.read(b)
            pending = np.concatenate([pending, part[self.rng.permutation(len(part))]])
            while len(pending) >= BATCH:
                yield pending[:BATCH]
                pending = pending[BATCH:]
        if len(pending) or self.n == 0:
            yield pending


def _keys(points: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(points, dtype=np.uint8).view(f"S{POINT_BYTES}").ravel()


def stream_pair_psi(
    channel: Channel,
    source: IdBatches,
    group: Executor,
    *,
    rows_path: Path | None = None,
    workdir: Path | None = None,
    bucket_rows: int = BUCKET_ROWS,
) -> StreamedPsi:
    """Our side of two-party PSI with every list on disk; messages exactly as ``pair.py``.

    ``source`` yields our (normalised) IDs in row order, and is read three times (check, order,
    here); ``rows_path`` receives our rows of the intersection in the agreed order as a .npy file
    (else they are returned in memory); ``workdir`` holds the private temporary folder."""
    t0 = time.perf_counter()
    mults0, hashes0 = group.scalar_mults, group.hashes
    folder = Path(tempfile.mkdtemp(prefix="vfl-psi-", dir=workdir))  # mode 0700
    try:
        run = _Run(folder, source, bucket_rows, np.random.default_rng(secrets.randbits(128)))
        run.check()
        t_check = time.perf_counter()
        hits = _exchange(channel, group, run)
        t_exchange = time.perf_counter()
        rows = _write_order(run, hits, rows_path)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    t1 = time.perf_counter()
    return StreamedPsi(
        rows=rows,
        size=len(rows),
        own_size=run.n,
        seconds=t1 - t0,
        scalar_mults=group.scalar_mults - mults0,
        hashes=group.hashes - hashes0,
        stages={"check": t_check - t0, "exchange": t_exchange - t_check, "order": t1 - t_exchange},
        rows_path=rows_path,
    )


_OUT = psi_pb2.PSI_STAGE_RING
_BACK = psi_pb2.PSI_STAGE_PAIR_RETURN


def _exchange(channel: Channel, group: Executor, run: _Run) -> _Buckets:
    """The wire of ``pair.py``; returns our shared (row, id) records in buckets by ID range."""
    peer, me = channel.peers[0], channel.me
    k = Scalar.random()
    count = _bucket_count(2 * run.n, run.bucket_rows)
    key_rec = np.dtype([("key", f"S{POINT_BYTES}")])
    mine = _Buckets(run.folder, "mine", count, np.dtype([("key", f"S{POINT_BYTES}"), *run.rec.descr]))
    theirs = _Buckets(run.folder, "theirs", count, key_rec)
    sent_path = run.folder / "sent.bin"
    sent_ready = threading.Condition()
    sent = {"batches": 0, "stopped": False}

    def send_own(out: BinaryIO) -> None:
        total = max(1, -(-run.n // BATCH))
        domain = domain_for(channel.job_id)
        try:
            for b, block in enumerate(run.shuffled()):
                ids = [x.decode("utf-8") for x in block["id"]]
                pts = group.exp(group.hash_to_group(ids, domain), k)
                out.write(block.tobytes())
                out.flush()
                with sent_ready:  # the block's rows are on disk before its points leave
                    sent["batches"] = b + 1
                    sent_ready.notify_all()
                send_batch(channel, peer, _OUT, b, total, pts, me)
        finally:
            with sent_ready:
                sent["stopped"] = True
                sent_ready.notify_all()

    def serve_peer() -> None:
        def back(b: int, total: int, pts: np.ndarray) -> None:
            out = group.exp(pts, k)
            send_batch(channel, peer, _BACK, b, total, out, peer)
            rec = np.empty(len(out), key_rec)
            rec["key"] = _keys(out)
            theirs.add(_prefix_bucket(out, count), rec)

        recv_batches(channel, peer, _OUT, owner=peer, on_batch=back, keep=False)

    def take_back(reader: BinaryIO) -> Callable[[int, int, np.ndarray], None]:
        def on(b: int, total: int, pts: np.ndarray) -> None:
            with sent_ready:
                sent_ready.wait_for(lambda: sent["batches"] > b or sent["stopped"])
            block = np.frombuffer(reader.read(len(pts) * run.rec.itemsize), run.rec)
            if len(block) != len(pts):
                raise ProtocolError(
                    f"{peer} returned batch {b} of our PSI list with {len(pts)} points, "
                    f"not the {len(block)} we sent"
                )
            rec = np.empty(len(pts), mine.dtype)
            rec["key"] = _keys(pts)
            rec["row"], rec["id"] = block["row"], block["id"]
            mine.add(_prefix_bucket(pts, count), rec)

        return on

    pool = ThreadPoolExecutor(2, thread_name_prefix=f"psi-{me}")
    try:
        with open(sent_path, "wb") as out, open(sent_path, "rb") as reader:
            sending: Future[Any] = pool.submit(send_own, out)
            serving: Future[Any] = pool.submit(serve_peer)
            recv_batches(channel, peer, _BACK, owner=me, on_batch=take_back(reader), keep=False)
            done, _ = wait([sending, serving], return_when=FIRST_EXCEPTION)
            for f in done:
                f.result()
            sending.result()
            serving.result()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        mine.done()
        theirs.done()
    splitters = np.unique(np.array([x.encode("utf-8") for x in run.sample], dtype=f"S{run.width}"))
    splitters = splitters[:: max(1, len(splitters) // _bucket_count(run.n, run.bucket_rows))][1:]
    shared = _Buckets(run.folder, "shared", len(splitters) + 1, run.rec)
    for b in range(count):
        m = mine.read(b)
        hit = m[np.isin(m["key"], theirs.read(b)["key"])]
        rec = np.empty(len(hit), run.rec)
        rec["row"], rec["id"] = hit["row"], hit["id"]
        shared.add(np.searchsorted(splitters, rec["id"], side="right"), rec)
    shared.done()
    return shared


def _write_order(run: _Run, shared: _Buckets, rows_path: Path | None) -> np.ndarray:
    """Our shared rows sorted by ID text (UTF-8 bytes sort as code points), written in parts."""
    size = sum(p.stat().st_size for p in shared.paths) // run.rec.itemsize
    target = rows_path if rows_path is not None else run.folder / "rows.npy"
    with open(target, "wb") as out:
        np.lib.format.write_array_header_1_0(
            out, {"descr": "<i8", "fortran_order": False, "shape": (int(size),)}
        )
        for b in range(shared.count):
            part = shared.read(b)
            out.write(part["row"][np.argsort(part["id"], kind="stable")].astype("<i8").tobytes())
    if rows_path is not None:
        return np.load(rows_path, mmap_mode="r")
    return np.load(target)
