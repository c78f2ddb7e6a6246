"""The PSI vocabulary shared by every role: who plays which part, topics, batch size."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BATCH", "Roles", "domain_for", "topic"]

BATCH = 32_768  # points per message: 1 MiB payloads, small enough to pipeline round the ring


@dataclass(frozen=True)
class Roles:
    """Party order is the job's order: the first is the comparer C, the second the dealer D."""

    order: tuple[str, ...]

    @property
    def comparer(self) -> str:
        return self.order[0]

    @property
    def dealer(self) -> str:
        return self.order[1]

    @property
    def non_comparers(self) -> tuple[str, ...]:
        return self.order[1:]

    def next_of(self, party: str) -> str:
        i = self.order.index(party)
        return self.order[(i + 1) % len(self.order)]

    def prev_of(self, party: str) -> str:
        i = self.order.index(party)
        return self.order[(i - 1) % len(self.order)]


def topic(stage: str, batch: int, owner: str = "") -> str:
    return f"psi/{stage}/{owner}/{batch}" if owner else f"psi/{stage}/{batch}"


def domain_for(job_id: str) -> bytes:
    """Hash-to-group domain: per job, so values from two jobs can never be linked."""
    return f"vfl-psi-v1|{job_id}".encode()
