"""Work made ahead in the background (the label holder's [[0]]s) runs only where it can overlap
a peer's work: a party with its own process, not the parties of one in-memory run (heu holds
the GIL in every call, so there it only adds to the others' time)."""

from __future__ import annotations

from typing import cast

from vfl.crypto.he import HEScheme
from vfl.executor.cohosted import cohosted
from vfl.executor.he import HEWork
from vfl.executor.local import LocalExecutor
from vfl.runtime.modes.local import run_in_memory


def test_in_memory_parties_make_nothing_ahead() -> None:
    scheme = cast(HEScheme, object())  # on this machine's threads HEWork only keeps the scheme
    with LocalExecutor(1) as ex:
        assert not cohosted() and HEWork(scheme, ex, "job-a").ahead  # a process of its own
        seen = run_in_memory(
            ["a", "b"], "job-a", lambda name, ch: (cohosted(), HEWork(scheme, ex, ch.job_id).ahead)
        )
        assert seen == {"a": (True, False), "b": (True, False)}
        assert not cohosted()  # marked only while the run lasts
