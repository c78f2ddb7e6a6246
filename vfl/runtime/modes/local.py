"""Run every party of a job in this process, one thread each, over the in-memory transport.

The protocol code is the same as in a real deployment; only the Channel differs. When a party
fails, its peers are told at once (no waiting for a timeout) and the first real error is raised.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from vfl.core.errors import PeerError
from vfl.executor.cohosted import cohosting
from vfl.transport.channel import Channel
from vfl.transport.memory import MemoryHub
from vfl.transport.recording import RecordedMessage, RecordingChannel

__all__ = ["run_in_memory"]

T = TypeVar("T")


def run_in_memory(
    parties: list[str],
    job_id: str,
    work: Callable[[str, Channel], T],
    *,
    timeout: float = 600.0,
    record: list[RecordedMessage] | None = None,
) -> dict[str, T]:
    hub = MemoryHub(parties, job_id, timeout=timeout)
    lock = threading.Lock()
    results: dict[str, T] = {}
    errors: dict[str, BaseException] = {}

    def run(name: str) -> None:
        ch: Channel = hub.channel(name)
        if record is not None:
            ch = RecordingChannel(ch, record, lock)
        try:
            results[name] = work(name, ch)
        except BaseException as exc:
            errors[name] = exc
            hub.mark_dead(name, f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=run, args=(p,), name=f"party-{p}", daemon=True) for p in parties]
    with cohosting(len(parties)):  # one interpreter for all: no party's work ahead pays
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    if errors:
        # a PeerError is a consequence; report the party whose own error started it
        root = [e for e in errors.values() if not isinstance(e, PeerError)]
        raise (root or list(errors.values()))[0]
    return results
