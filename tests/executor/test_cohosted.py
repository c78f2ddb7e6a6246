"""Work made ahead in the background (the label holder's [[0]]s) runs only where it can overlap
a peer's work: a party with its own process, or a scheme that makes them in a process of its own
(sf-heu's child, vfl/crypto/he/zeros.py); not on a thread of one in-memory run of all parties
(heu holds the GIL in every call, so there it would only add to the others' time)."""

from __future__ import annotations

from typing import cast

from vfl.crypto.he import HEScheme
from vfl.executor.cohosted import cohosted
from vfl.executor.he import HEWork
from vfl.executor.local import LocalExecutor
from vfl.runtime.modes.local import run_in_memory


class _Scheme:
    """All HEWork reads of a scheme on this machine's threads."""

    def __init__(self, apart: bool) -> None:
        self.prepares_zeros_apart = apart


def test_in_memory_parties_make_ahead_only_apart() -> None:
    threaded, apart = (cast(HEScheme, _Scheme(a)) for a in (False, True))
    with LocalExecutor(1) as ex:
        assert not cohosted() and HEWork(threaded, ex, "job-a").ahead  # a process of its own
        seen = run_in_memory(
            ["a", "b"],
            "job-a",
            lambda name, ch: (
                cohosted(),
                HEWork(threaded, ex, ch.job_id).ahead,
                HEWork(apart, ex, ch.job_id).ahead,
            ),
        )
        assert seen == {"a": (True, False, True), "b": (True, False, True)}
        assert not cohosted()  # marked only while the run lasts
