"""The default executor: this process's threads (rbcl's and NumPy's C calls release the GIL)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from vfl.executor.base import Executor, Pending, Shared

__all__ = ["LocalExecutor"]

S = TypeVar("S")
R = TypeVar("R")


class LocalExecutor(Executor):
    """``threads`` worker threads in this process (default: this machine's cores, at most 2 as
    before: the parties of a simulation share the box)."""

    kind = "local"

    def __init__(self, threads: int | None = None):
        super().__init__(threads or min(2, os.cpu_count() or 1))
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="vfl-exec")

    def map(self, fn: Callable[..., R], shards: Sequence[S], *shared: Shared) -> list[R]:
        values = [s.value for s in shared]
        if len(shards) == 1:
            return [fn(shards[0], *values)]
        return list(self._pool.map(lambda shard: fn(shard, *values), shards))

    def submit(
        self, fn: Callable[..., R], shard: S, *shared: Shared, affinity: int | None = None
    ) -> Pending[R]:
        self.submitted += 1
        return _Future(self._pool.submit(fn, shard, *[s.value for s in shared]))

    def close(self) -> None:
        self._pool.shutdown(wait=True)


class _Future(Pending[R]):
    def __init__(self, future: Future[R]):
        self._future = future

    def result(self) -> R:
        return self._future.result()
