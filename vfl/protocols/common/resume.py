"""Resuming a killed job, the same agreement for every protocol (protocols/specs/lr.md and
secureboost.md, "Checkpoints and resuming").

Every party checkpoints after each step (an epoch, a tree). On a restart each passive offers the
steps it holds, the active picks the newest step that *every* party holds (0: from scratch) and
tells everyone; every party restores that step. Each protocol supplies only its messages and
topics (:class:`ResumeWire`) and its run-key prefix. The protocol layer sees checkpoints only
through :class:`Checkpointer` (the runtime's ``vfl.runtime.store.checkpoint.Checkpoint``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from google.protobuf.message import Message

from vfl.core.errors import DataError, ProtocolError
from vfl.transport.channel import Channel

__all__ = [
    "Checkpointer",
    "ProtocolResume",
    "ResumeWire",
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


def run_key(protocol: str, role: str, settings: dict[str, Any], *arrays: np.ndarray) -> str:
    """SHA-256 of everything that fixes this party's training path: the protocol, its role, the
    schedule and optimiser settings, and its own data. A checkpoint with another key is not resumed."""
    h = hashlib.sha256(f"vfl/{protocol}/run/v1|{role}|".encode())
    h.update(json.dumps(settings, sort_keys=True, default=str).encode())
    for a in arrays:
        a = np.ascontiguousarray(a, dtype="<f8")
        h.update(f"|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


@dataclass(frozen=True)
class ResumeWire:
    """One protocol's resume messages: the passives' offers of held steps, the active's choice."""

    offer_topic: str
    start_topic: str
    offer: Callable[[list[int]], Message]  # held steps -> the offer message
    offer_type: type[Message]
    steps_offered: Callable[[Any], list[int]]
    start: Callable[[int], Message]  # chosen step -> the start message
    start_type: type[Message]
    step_started: Callable[[Any], int]
    unit: str  # "epoch" | "tree": how errors name a step


@dataclass(frozen=True)
class ProtocolResume:
    """One protocol's resume agreement: its run-key prefix and its wire, bound once, so that a
    protocol's module exposes ``run_key``, ``agree_start_active`` and ``agree_start_passive``."""

    protocol: str  # the run-key prefix: "lr", "sbt"
    wire: ResumeWire

    def run_key(self, role: str, settings: dict[str, Any], *arrays: np.ndarray) -> str:
        return run_key(self.protocol, role, settings, *arrays)

    def agree_start_active(
        self, channel: Channel, passives: list[str], checkpoint: Checkpointer | None, key: str
    ) -> tuple[int, dict[str, Any] | None]:
        return agree_start_active(channel, passives, checkpoint, key, self.wire)

    def agree_start_passive(
        self, channel: Channel, active: str, checkpoint: Checkpointer | None, key: str
    ) -> tuple[int, dict[str, Any] | None]:
        return agree_start_passive(channel, active, checkpoint, key, self.wire)


def agree_start_active(
    channel: Channel, passives: list[str], checkpoint: Checkpointer | None, key: str, wire: ResumeWire
) -> tuple[int, dict[str, Any] | None]:
    """Collect the passives' offers, choose the newest step all parties hold, announce it, and
    return it with the active's own state of that step (None when starting from scratch)."""
    common = set(held_steps(checkpoint, key, channel.me, wire.unit))
    for peer in passives:
        common &= {int(e) for e in wire.steps_offered(channel.recv(peer, wire.offer_topic, wire.offer_type))}
    step = max(common, default=0)
    channel.broadcast(wire.start_topic, wire.start(step), passives)
    return step, state_at(checkpoint, step)


def agree_start_passive(
    channel: Channel, active: str, checkpoint: Checkpointer | None, key: str, wire: ResumeWire
) -> tuple[int, dict[str, Any] | None]:
    """Offer the steps this passive holds; restore the one the active announces."""
    held = held_steps(checkpoint, key, channel.me, wire.unit)
    channel.send(active, wire.offer_topic, wire.offer(held))
    step = int(wire.step_started(channel.recv(active, wire.start_topic, wire.start_type)))
    if step and step not in held:
        raise ProtocolError(
            f"{active} restarts the job after {wire.unit} {step}, which {channel.me} "
            f"did not offer ({held or 'none'})"
        )
    return step, state_at(checkpoint, step)


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
