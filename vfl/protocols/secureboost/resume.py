"""Resuming a killed SecureBoost job (protocols/specs/secureboost.md, "Checkpoints and resuming").

Every party checkpoints after each tree (step = trees finished). On a restart each passive
offers the steps it holds, the active picks the newest step all parties hold (0: from scratch)
and tells everyone; every party restores that step. The agreement is the common one
(:mod:`vfl.protocols.common.resume`) with SecureBoost's messages and topics.
"""

from __future__ import annotations

from typing import Any

from vfl.protocols.common import resume as common
from vfl.protocols.common.resume import Checkpointer
from vfl.protocols.secureboost.model import PassiveSplit, decode_number, encode_number
from vfl.protocols.secureboost.stages import Topics
from vfl.wire.v1 import secureboost_pb2 as pb

__all__ = [
    "Checkpointer",
    "agree_start_active",
    "agree_start_passive",
    "run_key",
    "splits_from_state",
    "splits_to_state",
]


_RESUME = common.ProtocolResume(
    "sbt",
    common.ResumeWire(
        offer_topic=Topics.RESUME_OFFER,
        start_topic=Topics.RESUME_START,
        offer=lambda steps: pb.SBTResumeOffer(trees=steps),
        offer_type=pb.SBTResumeOffer,
        steps_offered=lambda msg: list(msg.trees),
        start=lambda step: pb.SBTResumeStart(trees=step),
        start_type=pb.SBTResumeStart,
        step_started=lambda msg: int(msg.trees),
        unit="tree",
    ),
)

run_key = _RESUME.run_key
agree_start_active = _RESUME.agree_start_active
agree_start_passive = _RESUME.agree_start_passive


def splits_to_state(splits: dict[int, PassiveSplit]) -> list[list[Any]]:
    return [[sid, s.feature, encode_number(s.threshold), s.default_left] for sid, s in splits.items()]


def splits_from_state(rows: list[list[Any]]) -> dict[int, PassiveSplit]:
    return {int(sid): PassiveSplit(int(f), decode_number(th), bool(dl)) for sid, f, th, dl in rows}
