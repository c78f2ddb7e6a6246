"""A party's PSI step: run the protocol on its IDs and keep its rows in the agreed order, with
progress while the group work runs (PSI is most of the default job)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

from vfl.core.progress import Progress
from vfl.data.table import PartyTable
from vfl.executor.base import Executor
from vfl.executor.choose import executor_scope
from vfl.protocols.psi import PsiResult, run_psi
from vfl.transport.channel import Channel

__all__ = ["AlignedParty", "align_party", "expected_scalar_mults"]

_POLL_S = 0.25


@dataclass(frozen=True)
class AlignedParty:
    table: PartyTable  # rows of the intersection only, in the order every party agrees on
    psi: PsiResult


def expected_scalar_mults(n_own: int, order: Sequence[str], me: str) -> int:
    """This party's share of the PSI cost model (protocols/specs/psi.md), with its own list's size
    standing in for the others' (which it learns only as their batches arrive): 2 per ID with two
    parties; N + 2 per ID with N, and 2 more per ID at the comparer."""
    n = len(order)
    if n == 2:
        return 2 * n_own
    return (n + 2 + (2 if me == order[0] else 0)) * n_own


def align_party(
    channel: Channel,
    table: PartyTable,
    order: Sequence[str],
    progress: Progress | None = None,
    executor: Executor | None = None,
) -> AlignedParty:
    """PSI on ``table``'s IDs. ``progress("psi", done, total)`` counts this party's scalar
    multiplications against the cost model while the protocol runs (a bar, a rate and an ETA
    where there used to be one step of unknown length). The group work runs on ``executor``, else
    on one opened from this process's compute settings (``[compute]``, ``--executor``)."""
    total = max(1, expected_scalar_mults(table.n_rows, order, channel.me))
    with executor_scope(executor) as group:
        mults0 = group.scalar_mults
        done = threading.Event()
        if progress is not None:
            progress("psi", 0, total)

            def report() -> None:
                while not done.wait(_POLL_S):
                    progress("psi", min(group.scalar_mults - mults0, total - 1), total)

            poller = threading.Thread(target=report, name=f"psi-progress-{channel.me}", daemon=True)
            poller.start()
        try:
            res = run_psi(channel, list(table.ids), order, executor=group)
        finally:
            done.set()
    if progress is not None:
        progress("psi", total, total)
    return AlignedParty(table.take(res.rows), res)
