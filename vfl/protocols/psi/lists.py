"""Moving point lists between parties in batches, optionally transforming each batch on the way
(so a relay can forward batch k while batch k+1 is still arriving)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias

import numpy as np

from vfl.core.errors import ProtocolError
from vfl.crypto.psi_group import POINT_BYTES
from vfl.protocols.psi.stages import BATCH, topic
from vfl.transport.channel import Channel
from vfl.wire.arrays import pack_fixed, unpack_fixed
from vfl.wire.v1 import psi_pb2

__all__ = ["recv_batches", "recv_list", "send_batch", "send_list"]

Stage: TypeAlias = psi_pb2.PsiStage  # an enum value (protoc's stubs type the constants so)
_NAMES: dict[int, str] = {
    psi_pb2.PSI_STAGE_RING: "ring",
    psi_pb2.PSI_STAGE_COMPARE: "compare",
    psi_pb2.PSI_STAGE_BLIND: "blind",
    psi_pb2.PSI_STAGE_BLIND_RETURN: "unblind",
    psi_pb2.PSI_STAGE_RESULT: "result",
    psi_pb2.PSI_STAGE_FINAL: "final",
    psi_pb2.PSI_STAGE_PAIR_RETURN: "pair",
}


def _batches(n: int, batch: int) -> int:
    return max(1, -(-n // batch))


def send_batch(
    channel: Channel, peer: str, stage: Stage, k: int, total: int, pts: np.ndarray, owner: str = ""
) -> None:
    """Send batch ``k`` of a ``total``-batch list (a relay forwards batches as they arrive)."""
    msg = psi_pb2.PointBatch(
        stage=stage, owner=owner, batch=k, batches=total, points=pack_fixed(pts, POINT_BYTES)
    )
    channel.send(peer, topic(_NAMES[stage], k, owner), msg)


def send_list(
    channel: Channel,
    peer: str,
    stage: Stage,
    points: np.ndarray,
    owner: str = "",
    transform: Callable[[np.ndarray], np.ndarray] | None = None,
) -> None:
    """Send a list batch by batch, applying ``transform`` (an exponentiation) to each batch just
    before it leaves, so the receiver starts on batch 0 while we compute batch 1."""
    total = _batches(len(points), BATCH)
    for k in range(total):
        chunk = points[k * BATCH : (k + 1) * BATCH]
        send_batch(channel, peer, stage, k, total, chunk if transform is None else transform(chunk), owner)


def recv_batches(
    channel: Channel,
    peer: str,
    stage: Stage,
    owner: str = "",
    on_batch: Callable[[int, int, np.ndarray], None] | None = None,
    keep: bool = True,
) -> list[np.ndarray]:
    """Receive every batch of one list, checking stage, owner and order; returns the batches
    (none with ``keep=False``: a streamed list goes to disk batch by batch, never all in memory)."""
    out: list[np.ndarray] = []
    total = 1
    k = 0
    while k < total:
        msg = channel.recv(peer, topic(_NAMES[stage], k, owner), psi_pb2.PointBatch)
        if msg.stage != stage or msg.owner != owner or msg.batch != k:
            raise ProtocolError(
                f"{peer} sent PSI batch {msg.batch} of stage {msg.stage} for {msg.owner!r} where "
                f"batch {k} of stage {stage} for {owner!r} was due"
            )
        if k == 0:
            total = int(msg.batches)
        elif msg.batches != total:
            raise ProtocolError(f"{peer} changed the batch count of a PSI list mid-way")
        pts = unpack_fixed(msg.points, POINT_BYTES, max_count=BATCH)
        if on_batch is not None:
            on_batch(k, total, pts)
        if keep:
            out.append(pts)
        k += 1
    return out


def recv_list(channel: Channel, peer: str, stage: Stage, owner: str = "") -> np.ndarray:
    parts = recv_batches(channel, peer, stage, owner)
    return np.concatenate(parts) if parts else np.empty((0, POINT_BYTES), np.uint8)
