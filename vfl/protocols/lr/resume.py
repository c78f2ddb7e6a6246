"""LR's side of the resume agreement (:mod:`vfl.protocols.common.resume`): its messages and topics.

Batch order comes from (seed, epoch) and gradient masks cancel exactly, so with an exact HE
backend a resumed job ends with the same model as an uninterrupted one.
"""

from __future__ import annotations

from vfl.protocols.common import resume as common
from vfl.protocols.common.resume import Checkpointer
from vfl.protocols.lr import stages as S
from vfl.wire.v1 import lr_pb2

__all__ = ["Checkpointer", "agree_start_active", "agree_start_passive", "run_key"]

_RESUME = common.ProtocolResume(
    "lr",
    common.ResumeWire(
        offer_topic=S.T_RESUME_OFFER,
        start_topic=S.T_RESUME_START,
        offer=lambda steps: lr_pb2.LRResumeOffer(epochs=steps),
        offer_type=lr_pb2.LRResumeOffer,
        steps_offered=lambda msg: list(msg.epochs),
        start=lambda step: lr_pb2.LRResumeStart(epoch=step),
        start_type=lr_pb2.LRResumeStart,
        step_started=lambda msg: int(msg.epoch),
        unit="epoch",
    ),
)

run_key = _RESUME.run_key
agree_start_active = _RESUME.agree_start_active
agree_start_passive = _RESUME.agree_start_passive
