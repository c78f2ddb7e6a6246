"""Phase 1, run by every party: encrypt each party's list under K = prod(k_i) round the ring.

The owner raises H(x) to a_i and sends it on; every other party raises to its k_j without
reordering; back home the owner raises to b_i. Only the owner ever holds a value carrying b_i, so
no one can compare another party's list with its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vfl.crypto.psi_group import Scalar
from vfl.executor.base import Executor
from vfl.protocols.psi.lists import recv_batches, send_batch
from vfl.protocols.psi.stages import BATCH, Roles, domain_for
from vfl.transport.channel import Channel
from vfl.wire.v1 import psi_pb2

__all__ = ["RingKeys", "encrypt_own_list", "finish_own_list", "relay_list"]

RING = psi_pb2.PSI_STAGE_RING


@dataclass(frozen=True)
class RingKeys:
    a: Scalar
    b: Scalar

    @property
    def k(self) -> Scalar:
        return self.a * self.b

    @classmethod
    def random(cls) -> RingKeys:
        return cls(Scalar.random(), Scalar.random())


def encrypt_own_list(
    channel: Channel, roles: Roles, group: Executor, keys: RingKeys, ids: np.ndarray, perm: np.ndarray
) -> None:
    """Hash the IDs in the secret order ``perm``, raise to a_i and send them round the ring."""
    me, nxt, domain = channel.me, roles.next_of(channel.me), domain_for(channel.job_id)
    total = max(1, -(-len(perm) // BATCH))
    for k in range(total):  # batch by batch, so the ring starts working at once
        rows = perm[k * BATCH : (k + 1) * BATCH]
        pts = group.exp(group.hash_to_group(ids[rows], domain), keys.a)
        send_batch(channel, nxt, RING, k, total, pts, me)


def relay_list(channel: Channel, roles: Roles, group: Executor, keys: RingKeys, owner: str) -> None:
    """Raise another owner's list to k_j batch by batch and pass it on, keeping its order."""
    me, nxt = channel.me, roles.next_of(channel.me)

    def forward(k: int, total: int, pts: np.ndarray) -> None:
        send_batch(channel, nxt, RING, k, total, group.exp(pts, keys.k), owner)

    recv_batches(channel, roles.prev_of(me), RING, owner=owner, on_batch=forward)


def finish_own_list(channel: Channel, roles: Roles, group: Executor, keys: RingKeys) -> np.ndarray:
    """Receive our own list back and raise it to b_i: F[x] = H(x)^K in our secret order."""
    me = channel.me
    parts: list[np.ndarray] = []
    recv_batches(
        channel,
        roles.prev_of(me),
        RING,
        owner=me,
        on_batch=lambda k, n, p: parts.append(group.exp(p, keys.b)),
    )
    return np.concatenate(parts)
