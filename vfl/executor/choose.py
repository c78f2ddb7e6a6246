"""The executor a party uses, from its own settings (``[compute]`` in its config, ``--executor``
on ``vfl simulate``). Party-local, like ``device``: never sent, never part of the handshake."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

from vfl.core.errors import ConfigError
from vfl.executor.base import Executor
from vfl.executor.local import LocalExecutor

__all__ = [
    "EXECUTORS",
    "ComputeConfig",
    "current_executor",
    "executor_scope",
    "open_executor",
    "using_executor",
]

EXECUTORS = ("local", "ray")


@dataclass(frozen=True)
class ComputeConfig:
    """``executor``: local (this process's threads) or ray; ``address``: the Ray cluster (none: a
    local Ray started by vfl); ``workers``: cores to use (none: all the executor has)."""

    executor: str = "local"
    address: str | None = None
    workers: int | None = None

    def __post_init__(self) -> None:
        if self.executor not in EXECUTORS:
            raise ConfigError(f"unknown executor {self.executor!r}", f"use one of {', '.join(EXECUTORS)}")
        if self.workers is not None and self.workers < 1:
            raise ConfigError(f"workers must be at least 1, got {self.workers}")
        if self.address and self.executor != "ray":
            raise ConfigError("address is for the ray executor only", 'set executor = "ray" or drop address')

    def describe(self) -> str:
        """Where the heavy work runs, in words (the serving log's line)."""
        n = self.workers
        cores = f"{n} worker{'s' if n != 1 else ''}" if n else "every core"
        if self.executor == "local":
            return f"this machine's threads ({cores})"
        return f"Ray at {self.address} ({cores})" if self.address else f"a local Ray ({cores})"


def _ray() -> Any:
    try:
        from vfl.executor import ray as ray_executor
    except ImportError as exc:
        raise ConfigError(
            "the ray executor needs Ray, which is not installed", "pip install 'vfl[ray]'"
        ) from exc
    return ray_executor


def open_executor(cfg: ComputeConfig) -> Executor:
    """A fresh executor for ``cfg`` (the caller closes it)."""
    if cfg.executor == "local":
        return LocalExecutor(cfg.workers)
    executor: Executor = _ray().RayExecutor(cfg.address, cfg.workers)
    return executor


def executor_scope(executor: Executor | None) -> AbstractContextManager[Executor]:
    """``executor`` as is (the caller's to close), else a fresh one from this process's compute
    settings, closed at the end: a party's job opens one for PSI and training together, and a
    fit called on its own (the library) opens its own."""
    return nullcontext(executor) if executor is not None else open_executor(current_executor())


_current: ComputeConfig = ComputeConfig()


def current_executor() -> ComputeConfig:
    """The compute settings this process's parties use (set by the mode that runs them)."""
    return _current


@contextmanager
def using_executor(cfg: ComputeConfig) -> Iterator[ComputeConfig]:
    """Run the parties started inside on ``cfg`` (``vfl run`` with a ``[compute]`` section,
    ``vfl simulate --executor``). With ray and no address, one local Ray is started here for all
    of them (the parties of a simulation share it) and stopped at the end."""
    global _current
    stop = _ray().start_local(cfg.workers) if cfg.executor == "ray" and not cfg.address else None
    before, _current = _current, cfg
    try:
        yield cfg
    finally:
        _current = before
        if stop is not None:
            stop()
