"""The Ray executor: a party's bulk work on its own Ray cluster (``[compute] executor = "ray"``).

Each worker is a Ray actor that keeps the values shared with it (a public HE context, the PSI
scalar of the current batch) so a map sends them once, not once per shard. Everything that
reaches the actors is pickled by Ray *inside the party's own cluster*, its own trust domain:
nothing a peer sent is ever unpickled, because peers' bytes reach the workers only as ``bytes``
inside a shard (protocols/specs/threat-model.md). The label holder's secret key stays on the label
holder's cluster: it is only ever shared with that party's own executor.
"""

from __future__ import annotations

import logging
import os
import resource
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import ray

from vfl.core.errors import ConfigError
from vfl.executor.base import Executor, Pending, Shared

__all__ = ["RayExecutor", "start_local"]

S = TypeVar("S")
R = TypeVar("R")

_INLINE = 4096  # bytes: a shared value this small travels with each call instead of by reference
# shared values an actor keeps (the most recent ones): a public context and one tree's [[g, h]]
# chunks (at most 64, vfl.protocols.secureboost.stages.MAX_GH_CHUNKS) with room to spare
_KEEP = 96


class _Worker:
    """One core of the party's cluster: runs shards and keeps the recent shared values."""

    def __init__(self) -> None:
        self._kept: OrderedDict[str, Any] = OrderedDict()

    def run(self, fn: Callable[..., Any], shard: Any, shared: list[tuple[str, Any, Any]]) -> Any:
        values = []
        for key, ref, load in shared:
            if key not in self._kept:
                value = ray.get(ref) if isinstance(ref, ray.ObjectRef) else ref
                self._kept[key] = value if load is None else load(value)
                while len(self._kept) > _KEEP:
                    self._kept.popitem(last=False)
            self._kept.move_to_end(key)
            values.append(self._kept[key])
        return fn(shard, *values)

    def usage(self) -> tuple[float, float]:
        """(peak resident MiB, CPU seconds) of this worker's process."""
        u = resource.getrusage(resource.RUSAGE_SELF)
        return u.ru_maxrss / 1024, u.ru_utime + u.ru_stime


_RemoteWorker = ray.remote(num_cpus=0)(_Worker)


def _init(address: str | None, workers: int | None) -> None:
    try:
        ray.init(
            address=address or None,
            num_cpus=None if address else (workers or os.cpu_count() or 1),
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.ERROR,  # its warnings (token auth, ...) broke --quiet
        )
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ConfigError(
            f"could not start or reach Ray at {address or 'this machine'!r}: {exc}",
            "check [compute] address (e.g. 'auto' on a node of the cluster, or host:6379)",
        ) from exc


def start_local(workers: int | None = None) -> Callable[[], None] | None:
    """Start a local Ray for this process's parties unless one runs; returns its stop."""
    if ray.is_initialized():
        return None
    _init(None, workers)
    return ray.shutdown


class RayExecutor(Executor):
    """``workers`` actors on the Ray cluster at ``address``; with no address, a local Ray that
    this executor starts (and stops on :meth:`close`) unless one is already running here."""

    kind = "ray"

    def __init__(self, address: str | None = None, workers: int | None = None):
        self._started = False
        if not ray.is_initialized():
            _init(address, workers)
            self._started = True
        super().__init__(workers or int(ray.cluster_resources().get("CPU", 1)))
        self._next = 0  # the actor of the next submit without an affinity
        self._started_actors: list[Any] = []  # made on first use: a job that sends no work pays nothing

    distributed = True

    @property
    def _actors(self) -> list[Any]:
        if not self._started_actors:
            self._started_actors = [
                _RemoteWorker.options(scheduling_strategy="SPREAD").remote() for _ in range(self.workers)
            ]
        return self._started_actors

    def share(self, value: Any, load: Callable[[Any], Any] | None = None) -> Shared:
        small = isinstance(value, bytes) and len(value) <= _INLINE
        return Shared(uuid.uuid4().hex, value if small else ray.put(value), load)

    def map(self, fn: Callable[..., R], shards: Sequence[S], *shared: Shared) -> list[R]:
        refs = [(s.key, s.value, s.load) for s in shared]
        calls = [self._actors[i % self.workers].run.remote(fn, shard, refs) for i, shard in enumerate(shards)]
        return list(_get(calls))

    def submit(
        self, fn: Callable[..., R], shard: S, *shared: Shared, affinity: int | None = None
    ) -> Pending[R]:
        if affinity is None:
            affinity, self._next = self._next, self._next + 1
        actor = self._actors[affinity % self.workers]
        self.submitted += 1
        return _RayPending(actor.run.remote(fn, shard, [(s.key, s.value, s.load) for s in shared]))

    def worker_usage(self) -> list[tuple[float, float]]:
        """Each worker's (peak resident MiB, CPU seconds): what the bench charges to Ray."""
        return list(ray.get([a.usage.remote() for a in self._started_actors]))

    def close(self) -> None:
        for a in self._started_actors:
            ray.kill(a)
        self._started_actors = []
        if self._started:
            ray.shutdown()


def _get(refs: Any) -> Any:
    """``ray.get``, re-raising a task's own exception as itself."""
    try:
        return ray.get(refs)
    except ray.exceptions.RayTaskError as exc:
        cause = getattr(exc, "cause", None)
        if isinstance(cause, BaseException):
            raise cause from None
        raise


class _RayPending(Pending[R]):
    def __init__(self, ref: Any):
        self._ref = ref

    def result(self) -> R:
        value: R = _get(self._ref)
        return value
