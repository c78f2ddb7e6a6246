"""Two parties: classic ECDH PSI, two scalar multiplications per ID.

With only two parties there is no third list to protect, so the split keys and the dealer's
exponent of the N-party protocol buy nothing: each party raises its own list to its key k and
sends it (in a secret order); the peer raises it to its own key, keeps a copy, and returns it in
the same order. Each party then holds its own list and the peer's, both under K = k_1*k_2, and
intersects them itself. Each learns the intersection and the peer's list size, as in the N-party
protocol; neither sees a value it could link to a peer's ID outside the intersection.
"""

from __future__ import annotations

from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import Any

import numpy as np

from vfl.crypto.psi_group import Scalar, points_as_keys
from vfl.executor.base import Executor
from vfl.protocols.psi.lists import recv_batches, send_batch
from vfl.protocols.psi.stages import BATCH, domain_for
from vfl.transport.channel import Channel
from vfl.wire.v1 import psi_pb2

__all__ = ["pair_intersection"]

_OUT = psi_pb2.PSI_STAGE_RING
_BACK = psi_pb2.PSI_STAGE_PAIR_RETURN


def _send_own(
    channel: Channel, peer: str, group: Executor, k: Scalar, ids: np.ndarray, perm: np.ndarray
) -> None:
    domain = domain_for(channel.job_id)
    total = max(1, -(-len(perm) // BATCH))
    for b in range(total):
        rows = perm[b * BATCH : (b + 1) * BATCH]
        send_batch(
            channel, peer, _OUT, b, total, group.exp(group.hash_to_group(ids[rows], domain), k), channel.me
        )


def _serve_peer(channel: Channel, peer: str, group: Executor, k: Scalar) -> np.ndarray:
    """Raise the peer's list to our key, return it in its order, keep it (under K)."""
    kept: list[np.ndarray] = []

    def back(b: int, total: int, pts: np.ndarray) -> None:
        out = group.exp(pts, k)
        kept.append(out)
        send_batch(channel, peer, _BACK, b, total, out, peer)

    recv_batches(channel, peer, _OUT, owner=peer, on_batch=back)
    return np.concatenate(kept)


def pair_intersection(channel: Channel, group: Executor, ids: np.ndarray, perm: np.ndarray) -> np.ndarray:
    """Our rows (indices into ``ids``) of the intersection, in no particular order."""
    peer = channel.peers[0]
    k = Scalar.random()
    pool = ThreadPoolExecutor(2, thread_name_prefix=f"psi-{channel.me}")
    try:
        sending: Future[Any] = pool.submit(_send_own, channel, peer, group, k, ids, perm)
        serving: Future[Any] = pool.submit(_serve_peer, channel, peer, group, k)
        mine = np.concatenate(recv_batches(channel, peer, _BACK, owner=channel.me))
        done, _ = wait([sending, serving], return_when=FIRST_EXCEPTION)
        for f in done:
            f.result()
        theirs = serving.result()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    own_keys = points_as_keys(mine)
    hit = np.isin(own_keys, points_as_keys(theirs), assume_unique=True)
    return perm[np.flatnonzero(hit)].astype(np.int64)
