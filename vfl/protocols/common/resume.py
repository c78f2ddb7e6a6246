"""Resuming a killed LR job (protocols/specs/lr.md, "Checkpoints and resuming").

Every party checkpoints after each epoch. On a restart each passive offers the epochs it holds,
the active picks the newest epoch that *every* party holds (0: from scratch) and tells everyone;
every party restores that epoch. Batch order comes from (seed, epoch) and gradient masks cancel
exactly, so with an exact HE backend the resumed job ends with the same model as an uninterrupted
one. The protocol layer sees checkpoints only through :class:`Checkpointer` (the runtime's
``vfl.runtime.store.checkpoint.Checkpoint`` implements it).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Protocol

import numpy as np

from vfl.core.errors import DataError, ProtocolError
from vfl.protocols.lr import stages as S
from vfl.transport.channel import Channel
from vfl.wire.v1 import lr_pb2

__all__ = [
    "Checkpointer",
    "agree_start_active",
    "agree_start_passive",
    "held_steps",
    "run_key",
    "state_at",
]


class Checkpointer(Protocol):
    """Where a party keeps its per-epoch state (step = epochs completed)."""

    def steps(self) -> list[int]: ...

    def load(self, step: int | None = None) -> dict[str, Any] | None: ...

    def save(self, step: int, state: dict[str, Any]) -> Any: ...


def run_key(role: str, settings: dict[str, Any], *arrays: np.ndarray) -> str:
    """SHA-256 of everything that fixes this party's training path: its role, the schedule and
    optimiser settings, and its own data. A checkpoint with another key is not resumed."""
    h = hashlib.sha256(f"vfl/lr/run/v1|{role}|".encode())
    h.update(json.dumps(settings, sort_keys=True, default=str).encode())
    for a in arrays:
        a = np.ascontiguousarray(a, dtype="<f8")
        h.update(f"|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def agree_start_active(
    channel: Channel, passives: list[str], checkpoint: Checkpointer | None, key: str
) -> tuple[int, dict[str, Any] | None]:
    """Collect the passives' offers, choose the newest epoch all parties hold, announce it, and
    return it with the active's own state of that epoch (None when starting from scratch)."""
    common = set(held_steps(checkpoint, key, channel.me, "epoch"))
    for peer in passives:
        offer = channel.recv(peer, S.T_RESUME_OFFER, lr_pb2.LRResumeOffer)
        common &= {int(e) for e in offer.epochs}
    epoch = max(common, default=0)
    channel.broadcast(S.T_RESUME_START, lr_pb2.LRResumeStart(epoch=epoch), passives)
    return epoch, state_at(checkpoint, epoch)


def agree_start_passive(
    channel: Channel, active: str, checkpoint: Checkpointer | None, key: str
) -> tuple[int, dict[str, Any] | None]:
    """Offer the epochs this passive holds; restore the one the active announces."""
    held = held_steps(checkpoint, key, channel.me, "epoch")
    channel.send(active, S.T_RESUME_OFFER, lr_pb2.LRResumeOffer(epochs=held))
    epoch = int(channel.recv(active, S.T_RESUME_START, lr_pb2.LRResumeStart).epoch)
    if epoch and epoch not in held:
        raise ProtocolError(
            f"{active} restarts the job from epoch {epoch}, which {channel.me} "
            f"did not offer ({held or 'none'})"
        )
    return epoch, state_at(checkpoint, epoch)


def held_steps(checkpoint: Checkpointer | None, key: str, me: str, unit: str) -> list[int]:
    """Steps (>= 1) this party can restart from; refuses checkpoints of another run. The state
    of step k must hold ``run_key`` and ``step`` = k."""
    if checkpoint is None:
        return []
    held = [s for s in checkpoint.steps() if s >= 1]
    for step in held:
        state = checkpoint.load(step)
        if state is None or state.get("run_key") != key or state.get("step") != step:
            raise DataError(
                f"{me}'s checkpoint of {unit} {step} was written with other data or parameters",
                "resume with the same job file and data, or run without --resume to start afresh",
            )
    return held


def state_at(checkpoint: Checkpointer | None, step: int) -> dict[str, Any] | None:
    """The saved state of ``step``; None for step 0 (from scratch)."""
    if step == 0 or checkpoint is None:
        return None
    return checkpoint.load(step)
