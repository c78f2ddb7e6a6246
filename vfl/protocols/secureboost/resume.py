"""Resuming a killed SecureBoost job (protocols/specs/secureboost.md, "Checkpoints and resuming").

Every party checkpoints after each tree (step = trees finished). On a restart each passive
offers the steps it holds, the active picks the newest step all parties hold (0: from scratch)
and tells everyone; every party restores that step. The agreement is the LR one
(:mod:`vfl.protocols.common.resume`) with SecureBoost's messages and topics.
"""

from __future__ import annotations

from typing import Any

from vfl.core.errors import ProtocolError
from vfl.protocols.common.resume import Checkpointer, held_steps, run_key, state_at
from vfl.protocols.secureboost.model import PassiveSplit, decode_number, encode_number
from vfl.protocols.secureboost.stages import Topics
from vfl.transport.channel import Channel
from vfl.wire.v1 import secureboost_pb2 as pb

__all__ = ["Checkpointer", "agree_start_active", "agree_start_passive", "run_key", "splits_from_state",
           "splits_to_state"]


def agree_start_active(channel: Channel, passives: list[str], checkpoint: Checkpointer | None,
                       key: str) -> tuple[int, dict[str, Any] | None]:
    common = set(held_steps(checkpoint, key, channel.me, "tree"))
    for peer in passives:
        common &= {int(t) for t in channel.recv(peer, Topics.RESUME_OFFER, pb.SBTResumeOffer).trees}
    step = max(common, default=0)
    channel.broadcast(Topics.RESUME_START, pb.SBTResumeStart(trees=step), passives)
    return step, state_at(checkpoint, step)


def agree_start_passive(channel: Channel, active: str, checkpoint: Checkpointer | None,
                        key: str) -> tuple[int, dict[str, Any] | None]:
    held = held_steps(checkpoint, key, channel.me, "tree")
    channel.send(active, Topics.RESUME_OFFER, pb.SBTResumeOffer(trees=held))
    step = int(channel.recv(active, Topics.RESUME_START, pb.SBTResumeStart).trees)
    if step and step not in held:
        raise ProtocolError(f"{active} restarts the job after tree {step}, which {channel.me} "
                            f"did not offer ({held or 'none'})")
    return step, state_at(checkpoint, step)


def splits_to_state(splits: dict[int, PassiveSplit]) -> list[list[Any]]:
    return [[sid, s.feature, encode_number(s.threshold), s.default_left] for sid, s in splits.items()]


def splits_from_state(rows: list[list[Any]]) -> dict[int, PassiveSplit]:
    return {int(sid): PassiveSplit(int(f), decode_number(th), bool(dl)) for sid, f, th, dl in rows}
