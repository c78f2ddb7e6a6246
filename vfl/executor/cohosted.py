"""Whether several parties run in this interpreter (the in-memory runner of ``vfl simulate``,
the benches and the library's federation): then work made ahead on a background thread does not
pay. heu holds the GIL in every call (measured: a pure-Python thread gets 8 % of its usual work
done during an OU encryption), so in one interpreter the parties' HE calls run one after another
whatever the threads; a label holder's [[0]]s made "ahead" only add their cost to the others'.
With its own process (``vfl run``, ``vfl serve``, ``--transport grpc``) a party's background
work fills the time it waits for its peers."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["cohosted", "cohosting"]

_lock = threading.Lock()
_parties = 0


@contextmanager
def cohosting(parties: int) -> Iterator[None]:
    """Mark ``parties`` parties as running in this interpreter while the block runs."""
    global _parties
    with _lock:
        _parties += parties
    try:
        yield
    finally:
        with _lock:
            _parties -= parties


def cohosted() -> bool:
    """More than one party runs in this interpreter now."""
    return _parties > 1
