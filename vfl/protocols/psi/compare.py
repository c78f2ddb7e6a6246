"""Phase 2: compare the lists under K*s, where s is a secret the comparer never holds, so the
comparer can intersect but cannot map any value back to one of its own rows.

Comparer C: blinds its F_C with a one-time t, the dealer D raises to s and shuffles, C removes t.
Non-comparers (D and the others, who share s) send their shuffled F^s. C intersects the N lists,
sends the sorted intersection to D, D removes s and sends the intersection under K to everyone.
"""

from __future__ import annotations

import numpy as np

from vfl.core.errors import ProtocolError
from vfl.crypto.psi_group import Scalar, keys_as_points, points_as_keys
from vfl.executor.base import Executor
from vfl.protocols.psi.lists import recv_batches, recv_list, send_list
from vfl.protocols.psi.stages import Roles
from vfl.transport.channel import Channel
from vfl.wire.v1 import psi_pb2

__all__ = ["as_comparer", "as_dealer", "as_holder", "receive_final"]


def _shuffled(points: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return points[rng.permutation(len(points))]


def as_comparer(channel: Channel, roles: Roles, group: Executor, f_own: np.ndarray) -> None:
    t = Scalar.random()
    send_list(channel, roles.dealer, psi_pb2.PSI_STAGE_BLIND, f_own, transform=lambda p: group.exp(p, t))
    t_inv = t.inverse()
    parts: list[np.ndarray] = []
    recv_batches(
        channel,
        roles.dealer,
        psi_pb2.PSI_STAGE_BLIND_RETURN,
        on_batch=lambda k, n, p: parts.append(group.exp(p, t_inv)),
    )
    common = points_as_keys(np.concatenate(parts))
    if len(np.unique(common)) != len(common):
        raise ProtocolError("the dealer returned repeated values for our list", "re-run the job")
    for peer in roles.non_comparers:
        theirs = points_as_keys(recv_list(channel, peer, psi_pb2.PSI_STAGE_COMPARE, owner=peer))
        common = np.intersect1d(common, theirs, assume_unique=True)  # sorted: order says nothing
    result = keys_as_points(common)
    send_list(channel, roles.dealer, psi_pb2.PSI_STAGE_RESULT, result)


def as_dealer(
    channel: Channel, roles: Roles, group: Executor, f_own: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    s = Scalar.random()
    for peer in roles.non_comparers[1:]:
        channel.send(peer, "psi/s", psi_pb2.SharedScalar(scalar=s.to_bytes()))
    _send_for_comparison(channel, roles, group, f_own, s, rng)
    blinded_parts: list[np.ndarray] = []
    recv_batches(
        channel,
        roles.comparer,
        psi_pb2.PSI_STAGE_BLIND,
        on_batch=lambda k, n, p: blinded_parts.append(group.exp(p, s)),
    )
    blinded = np.concatenate(blinded_parts)
    send_list(channel, roles.comparer, psi_pb2.PSI_STAGE_BLIND_RETURN, _shuffled(blinded, rng))
    s_inv = s.inverse()
    result = recv_list(channel, roles.comparer, psi_pb2.PSI_STAGE_RESULT)
    final = group.exp(result, s_inv)
    keys = np.sort(points_as_keys(final))  # the agreed order: bytes of H(x)^K
    final = keys_as_points(keys)
    for peer in roles.order:
        if peer != channel.me:
            send_list(channel, peer, psi_pb2.PSI_STAGE_FINAL, final)
    return final


def as_holder(
    channel: Channel, roles: Roles, group: Executor, f_own: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    msg = channel.recv(roles.dealer, "psi/s", psi_pb2.SharedScalar)
    _send_for_comparison(channel, roles, group, f_own, Scalar(msg.scalar), rng)
    return receive_final(channel, roles)


def _send_for_comparison(
    channel: Channel, roles: Roles, group: Executor, f_own: np.ndarray, s: Scalar, rng: np.random.Generator
) -> None:
    """A non-comparer's F^s, freshly shuffled, to the comparer."""
    send_list(
        channel,
        roles.comparer,
        psi_pb2.PSI_STAGE_COMPARE,
        _shuffled(f_own, rng),
        owner=channel.me,
        transform=lambda p: group.exp(p, s),
    )


def receive_final(channel: Channel, roles: Roles) -> np.ndarray:
    return recv_list(channel, roles.dealer, psi_pb2.PSI_STAGE_FINAL)
