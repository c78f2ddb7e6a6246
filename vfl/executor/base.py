"""The executor interface: the bulk operations a party does alone, over row shards.

A protocol hands an executor plain functions of plain values (``fn(shard, *shared)``), so the same
call runs on this process's threads or on the party's own Ray workers; the results come back in
shard order, so every executor gives bit-identical results. The PSI group operations are built on
:meth:`Executor.map` here; SecureBoost's and LR's HE work (:mod:`vfl.executor.he`) uses
:meth:`Executor.share` for the public context and the [[g, h]] chunks and :meth:`Executor.submit`
per chunk.
"""

from __future__ import annotations

import threading
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

import numpy as np

from vfl.crypto.psi_group import POINT_BYTES, Scalar, as_points, exp_batch, hash_batch, hash_prefix

__all__ = ["MIN_SHARD", "Executor", "Pending", "Shared"]

S = TypeVar("S")
R = TypeVar("R")

MIN_SHARD = 2048  # rows: below this a batch runs as one shard (splitting costs more than it gains)
SHARDS_PER_WORKER = 2  # a slow or descheduled worker holds up half as much of a batch


@dataclass(frozen=True)
class Shared:
    """A value every shard of a :meth:`Executor.map` needs (a public HE context, a PSI scalar):
    sent to each worker once and kept there under ``key``, not once per shard."""

    key: str
    value: Any = field(repr=False)
    #: applied once per worker to ``value`` (e.g. rebuild a public HE scheme from its bytes); the
    #: local executor applies it once, at :meth:`Executor.share`
    load: Callable[[Any], Any] | None = field(default=None, repr=False)


class Pending(Generic[R]):
    """A result on its way (:meth:`Executor.submit`); ``result()`` waits for it and re-raises the
    task's own exception."""

    def result(self) -> R:
        raise NotImplementedError


class Executor(ABC):
    """A party's own compute: ``workers`` cores on threads or on its Ray cluster.

    Counts the group operations it ran (the PSI bench's floor and the progress bar read them) and
    the tasks :meth:`submit` started."""

    kind: str = "abstract"
    #: the work leaves this process (Ray): HE work is then cut into tasks per [[g, h]] chunk or row
    #: shard. Locally it is not, since heu and NumPy already use every core of this process.
    distributed: ClassVar[bool] = False

    def __init__(self, workers: int):
        self.workers = max(1, workers)
        self._lock = threading.Lock()
        self.scalar_mults = 0
        self.hashes = 0
        self.submitted = 0  # tasks started by submit (the HE work's, vfl.executor.he)

    @abstractmethod
    def map(self, fn: Callable[..., R], shards: Sequence[S], *shared: Shared) -> list[R]:
        """``[fn(shard, *values of shared) for shard in shards]``, in shard order, on the workers.

        ``fn`` must be a module-level function (Ray sends it by reference, inside the party's own
        cluster only); an exception it raises is re-raised here as itself."""

    @abstractmethod
    def submit(
        self, fn: Callable[..., R], shard: S, *shared: Shared, affinity: int | None = None
    ) -> Pending[R]:
        """Start ``fn(shard, *values of shared)`` on a worker (the same worker for the same
        ``affinity``, so the shared values it needs are already there); returns at once."""

    def share(self, value: Any, load: Callable[[Any], Any] | None = None) -> Shared:
        """Make ``value`` (``load(value)`` when given) available to every worker of the coming
        calls."""
        return Shared(uuid.uuid4().hex, value if load is None else load(value))

    @abstractmethod
    def close(self) -> None:
        """Release the workers (threads or actors); the executor is unusable afterwards."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def split(self, n: int) -> list[slice]:
        """The shards of ``n`` rows: one below :data:`MIN_SHARD`, else a few per worker."""
        parts = (
            1
            if n < MIN_SHARD or self.workers == 1
            else min(-(-n // (MIN_SHARD // 2)), self.workers * SHARDS_PER_WORKER)
        )
        step = -(-n // parts) if n else 0
        return [slice(i * step, min(n, (i + 1) * step)) for i in range(parts)] if n else [slice(0, 0)]

    # PSI: the group work on batches of IDs and points -------------------------------------------

    def hash_to_group(self, ids: Sequence[str] | np.ndarray, domain: bytes) -> np.ndarray:
        """H(x) for every ID (``vfl.crypto.psi_group.hash_batch``), as an (n, 32) array."""
        items = list(ids)
        with self._lock:
            self.hashes += len(items)
        prefix = self.share(hash_prefix(domain))
        return as_points(b"".join(self.map(hash_batch, [items[s] for s in self.split(len(items))], prefix)))

    def exp(self, points: np.ndarray, k: Scalar) -> np.ndarray:
        """Every point raised to ``k``; an invalid point from a peer raises ProtocolError."""
        data = np.ascontiguousarray(points, dtype=np.uint8).tobytes()
        n = len(data) // POINT_BYTES
        with self._lock:
            self.scalar_mults += n
        shards = [data[s.start * POINT_BYTES : s.stop * POINT_BYTES] for s in self.split(n)]
        return as_points(b"".join(self.map(exp_batch, shards, self.share(k.to_bytes()))))
