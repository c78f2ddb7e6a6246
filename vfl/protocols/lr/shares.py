"""Values the passives send the active only as a sum: partial scores (per row) and, for L-BFGS,
Gram matrices. With one passive they travel in the clear (the documented leakage of the
two-party protocol); with two or more, pairwise-masked so that the active learns only the sum.
"""

from __future__ import annotations

import numpy as np

from vfl.core.errors import ProtocolError
from vfl.protocols.lr import stages as S
from vfl.protocols.lr.masking import (
    WIDE_FRAC_BITS,
    WIDE_WORDS,
    decode_fixed,
    decode_wide_sum,
    mask_scores,
    mask_wide,
)
from vfl.transport.channel import Channel
from vfl.wire.arrays import from_ndarray, to_ndarray
from vfl.wire.v1 import lr_pb2

__all__ = ["passive_sum", "send_share"]


def send_share(
    channel: Channel,
    active: str,
    topic: str,
    values: np.ndarray,
    mode: str,
    seeds: dict[str, bytes],
    wide: bool = False,
) -> None:
    """Send this passive's ``values``: float64 in the clear, or masked fixed point (``wide``: in
    Z_2^192, for values spanning many magnitudes; else Z_2^64 with 32 fraction bits)."""
    v = np.asarray(values, dtype=np.float64)  # the wire carries host float64, whatever the device
    label = f"{channel.job_id}|{topic}"
    if mode == S.SCORE_CLEAR:
        share = lr_pb2.ScoreShare(clear=to_ndarray(v))
    elif wide:
        share = lr_pb2.ScoreShare(
            masked=to_ndarray(mask_wide(v, channel.me, seeds, label)), frac_bits=WIDE_FRAC_BITS
        )
    else:
        masked = mask_scores(v, channel.me, seeds, label, S.FRAC_BITS)
        share = lr_pb2.ScoreShare(masked=to_ndarray(masked), frac_bits=S.FRAC_BITS)
    channel.send(active, topic, share)


def passive_sum(
    channel: Channel, passives: list[str], topic: str, mode: str, n: int, wide: bool = False
) -> np.ndarray:
    """The sum over passives of the ``n`` values each sent on ``topic`` (see :func:`send_share`)."""
    bits = WIDE_FRAC_BITS if wide else S.FRAC_BITS
    shape = (n,) if mode == S.SCORE_CLEAR or not wide else (n, WIDE_WORDS)
    want = np.float64 if mode == S.SCORE_CLEAR else np.uint64
    parts = []
    for peer in passives:
        msg = channel.recv(peer, topic, lr_pb2.ScoreShare)
        kind = msg.WhichOneof("share")
        if kind != mode or (mode == S.SCORE_MASKED and msg.frac_bits != bits):
            raise ProtocolError(f"{peer} sent a {kind} share on '{topic}', expected {mode}")
        arr = from_ndarray(getattr(msg, kind), max_elements=int(np.prod(shape)))
        if arr.shape != shape or arr.dtype != want:
            raise ProtocolError(
                f"{peer} sent values of shape {arr.shape}/{arr.dtype} on '{topic}', expected {shape}"
            )
        parts.append(arr)
    if mode == S.SCORE_CLEAR:
        return np.sum(parts, axis=0) if parts else np.zeros(n)
    if wide:
        return decode_wide_sum(parts)
    acc = np.zeros(n, dtype=np.uint64)
    for arr in parts:
        acc += arr
    return decode_fixed(acc, S.FRAC_BITS)
