"""A party's PSI step: run the protocol on its IDs and keep its rows in the agreed order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from vfl.data.table import PartyTable
from vfl.protocols.psi import PsiResult, run_psi
from vfl.transport.channel import Channel

__all__ = ["AlignedParty", "align_party"]


@dataclass(frozen=True)
class AlignedParty:
    table: PartyTable  # rows of the intersection only, in the order every party agrees on
    psi: PsiResult


def align_party(channel: Channel, table: PartyTable, order: Sequence[str]) -> AlignedParty:
    res = run_psi(channel, list(table.ids), order)
    return AlignedParty(table.take(res.rows), res)
