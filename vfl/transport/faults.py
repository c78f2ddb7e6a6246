"""Fault injection: a proxy :class:`Channel` that misbehaves by a seeded, declarative plan.

It wraps a transport's channel (memory or gRPC) and, for the messages a :class:`Fault` selects
(by the party whose channel it is, the peer, a topic pattern and the n-th match), **drops**,
**delays**, **duplicates**, **reorders** (holds one message back behind the next to the same
peer), **corrupts** (flips bytes of the envelope's payload) or **truncates** it, or **stops**
the party at that point: ``raise`` (the party crashes with :class:`PartyStopped`), ``hang`` (it
blocks for ``seconds``, then carries on) or ``kill`` (SIGKILL of its own process). Protocol
code sees a Channel and never knows; the tests in ``tests/faults/`` and
``scripts/fault_run.py`` put it between a party and its transport.

A plan is data, e.g. ``FaultPlan.of({"kind": "drop", "party": "hospital", "topic": "psi/*"})``:
every random choice (which bytes to flip, where to cut) comes from the plan's seed, so a failing
run is replayed exactly.
"""

from __future__ import annotations

import fnmatch
import os
import random
import signal
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from vfl.core.errors import ConfigError
from vfl.transport.channel import Channel
from vfl.wire.v1 import common_pb2

__all__ = [
    "FAULT_KINDS",
    "MESSAGE_FAULTS",
    "STOP_FAULTS",
    "Fault",
    "FaultPlan",
    "FaultyChannel",
    "Fired",
    "PartyStopped",
]

#: what happens to a selected message on its way out
MESSAGE_FAULTS = ("drop", "delay", "duplicate", "reorder", "corrupt", "truncate")
#: what happens to the party itself when it reaches the selected send or receive
STOP_FAULTS = ("raise", "hang", "kill")
FAULT_KINDS = MESSAGE_FAULTS + STOP_FAULTS


class PartyStopped(RuntimeError):
    """The injected crash of a party. Not a VflError on purpose: a test tells the crash it
    caused from the errors its peers must end with."""


@dataclass(frozen=True)
class Fault:
    """One rule. Patterns are :mod:`fnmatch` patterns; ``topic`` may list alternatives with
    ``|`` (``"job/propose|job/answer"``). ``nth``: the n-th message this party's channel sees
    that matches (1 = the first), 0 = every match. ``on``: message faults act on what the
    party sends; stops act before the party sends (``send``) or receives (``recv``) it.
    ``seconds``: how long a ``delay`` or a ``hang`` lasts. ``flips``: bytes a ``corrupt``
    changes."""

    kind: str
    party: str = "*"
    peer: str = "*"
    topic: str = "*"
    nth: int = 1
    on: str = "send"
    seconds: float = 1.0
    flips: int = 1

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ConfigError(f"unknown fault kind {self.kind!r}", f"use one of {', '.join(FAULT_KINDS)}")
        if self.on not in ("send", "recv") or (self.on == "recv" and self.kind in MESSAGE_FAULTS):
            raise ConfigError(
                f"fault {self.kind!r} cannot act on {self.on!r}",
                "message faults act on 'send'; stops (raise, hang, kill) on 'send' or 'recv'",
            )
        if self.nth < 0 or self.seconds < 0 or self.flips < 1:
            raise ConfigError(f"fault {self}: nth and seconds must be >= 0, flips >= 1")

    def selects(self, me: str, peer: str, topic: str, on: str) -> bool:
        return (
            on == self.on
            and fnmatch.fnmatchcase(me, self.party)
            and fnmatch.fnmatchcase(peer, self.peer)
            and any(fnmatch.fnmatchcase(topic, p) for p in self.topic.split("|"))
        )


@dataclass(frozen=True)
class Fired:
    """One fault that took effect: which rule, at which party, on which message."""

    kind: str
    party: str
    peer: str
    topic: str
    detail: str = ""


@dataclass
class FaultPlan:
    """The rules of one run, its seed, and what fired (shared by every party's channel)."""

    faults: tuple[Fault, ...]
    seed: int = 0
    fired: list[Fired] = field(default_factory=list)
    #: set it to end every ``hang`` at once (once the hung party's peers have given up on it)
    released: threading.Event = field(default_factory=threading.Event)
    #: the parties inside a ``hang`` now
    hanging: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def of(cls, *rules: Fault | Mapping[str, Any], seed: int = 0) -> FaultPlan:
        """A plan from rules given as Faults or as plain dicts (a JSON plan's entries)."""
        known = {f.name for f in fields(Fault)}
        faults = []
        for r in rules:
            if isinstance(r, Fault):
                faults.append(r)
                continue
            unknown = set(r) - known
            if unknown:
                raise ConfigError(f"unknown fault fields {sorted(unknown)}", f"use {sorted(known)}")
            faults.append(Fault(**r))
        return cls(tuple(faults), seed)

    def to_dicts(self) -> list[dict[str, Any]]:
        return [{f.name: getattr(r, f.name) for f in fields(Fault)} for r in self.faults]

    def record(self, fired: Fired) -> None:
        with self._lock:
            self.fired.append(fired)

    def kinds_fired(self) -> set[str]:
        with self._lock:
            return {f.kind for f in self.fired}

    def wrap(self, channels: Iterable[Channel]) -> list[FaultyChannel]:
        return [FaultyChannel(c, self) for c in channels]


class FaultyChannel(Channel):
    """``inner`` (a transport's channel: it implements ``_deliver``/``_collect``) with the
    plan's faults in front of it. Counts matches per rule at this party, so ``nth`` is the
    n-th message of this party's that a rule selects."""

    def __init__(self, inner: Channel, plan: FaultPlan) -> None:
        super().__init__(
            inner.me, [inner.me, *inner.peers], inner.job_id, inner.timeout, inner.max_message_bytes
        )
        self.inner, self.plan = inner, plan
        self.stats = inner.stats  # Channel.send counts what we hand on, as the inner would
        self._seen = [0] * len(plan.faults)
        self._held: list[tuple[str, str, common_pb2.Envelope]] = []  # reorder: (peer, topic, env)
        self._lock = threading.Lock()

    # -- selection ----------------------------------------------------------------------------
    def _select(self, peer: str, topic: str, on: str) -> list[tuple[int, Fault]]:
        hits = []
        with self._lock:
            for i, f in enumerate(self.plan.faults):
                if f.selects(self.me, peer, topic, on):
                    self._seen[i] += 1
                    if f.nth in (0, self._seen[i]):
                        hits.append((i, f))
        return hits

    def _rng(self, i: int, peer: str, topic: str) -> random.Random:
        return random.Random(f"{self.plan.seed}/{i}/{self.me}/{peer}/{topic}/{self._seen[i]}")

    def _stop(self, f: Fault, peer: str, topic: str) -> None:
        self.plan.record(Fired(f.kind, self.me, peer, topic, f"before {f.on}"))
        if f.kind == "raise":
            raise PartyStopped(f"{self.me} stopped (injected) before {f.on} of '{topic}' with {peer}")
        if f.kind == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        with self.plan._lock:
            self.plan.hanging.add(self.me)
        try:  # hang, then carry on as a party that woke up late
            self.plan.released.wait(f.seconds)
        finally:
            with self.plan._lock:
                self.plan.hanging.discard(self.me)

    # -- sending ------------------------------------------------------------------------------
    def _deliver(self, peer: str, topic: str, env: common_pb2.Envelope) -> None:
        out = [env]
        hold = False
        for i, f in self._select(peer, topic, "send"):
            if f.kind in STOP_FAULTS:
                self._stop(f, peer, topic)
                continue
            detail = ""
            if f.kind == "drop":
                out = []
            elif f.kind == "delay":
                time.sleep(f.seconds)
                detail = f"{f.seconds} s"
            elif f.kind == "duplicate":
                out = out + out[-1:]
            elif f.kind == "reorder":
                hold = True
            elif f.kind in ("corrupt", "truncate"):
                out, detail = _damage(out, f, self._rng(i, peer, topic))
            self.plan.record(Fired(f.kind, self.me, peer, topic, detail))
        with self._lock:
            if hold:  # this one goes out after the next message to the same peer
                self._held.extend((peer, topic, e) for e in out)
                return
            behind = [h for h in self._held if h[0] == peer]
            self._held = [h for h in self._held if h[0] != peer]
        for e in out:
            self.inner._deliver(peer, topic, e)
        for p, t, e in behind:
            self.inner._deliver(p, t, e)

    def _flush(self) -> None:
        """Send what reorder holds back before this party waits (or leaves): a message held
        forever would be a drop, which is a fault of its own."""
        with self._lock:
            held, self._held = self._held, []
        for p, t, e in held:
            self.inner._deliver(p, t, e)

    # -- receiving ----------------------------------------------------------------------------
    def _collect(self, peer: str, topic: str, timeout: float) -> common_pb2.Envelope:
        self._flush()
        for _i, f in self._select(peer, topic, "recv"):
            self._stop(f, peer, topic)
        return self.inner._collect(peer, topic, timeout)

    def close(self) -> None:
        try:
            self._flush()
        finally:
            self.inner.close()


def _damage(
    envs: list[common_pb2.Envelope], f: Fault, rng: random.Random
) -> tuple[list[common_pb2.Envelope], str]:
    """Copies of ``envs`` with flipped bytes or a cut payload (an empty payload gains a byte)."""
    out = []
    detail = ""
    for env in envs:
        bad = common_pb2.Envelope()
        bad.CopyFrom(env)
        data = bytearray(env.payload)
        if f.kind == "truncate":
            cut = rng.randrange(len(data)) if data else 0
            detail = f"{len(data)} -> {cut} bytes"
            data = data[:cut]
        elif not data:
            data = bytearray([rng.randrange(256)])
            detail = "empty payload -> 1 byte"
        else:
            where = sorted(rng.sample(range(len(data)), min(f.flips, len(data))))
            for k in where:
                data[k] ^= rng.randrange(1, 256)
            detail = f"flipped bytes {where} of {len(data)}"
        bad.payload = bytes(data)
        out.append(bad)
    return out, detail
