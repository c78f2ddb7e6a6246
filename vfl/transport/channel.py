"""The one interface protocol code talks to: ``send(peer, topic, msg)`` / ``recv(peer, topic, type)``.

Every message travels inside an :class:`Envelope` bound to the job, the sender, the receiver, the
topic and the payload's message type; :meth:`Channel.recv` refuses anything that does not match,
so a late or resent message from another round can never be mistaken for the expected one.
"""

from __future__ import annotations

import re
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TypeVar

from google.protobuf.message import DecodeError, Message

from vfl.core.errors import WireError
from vfl.core.jobs import check_job_id
from vfl.core.parties import check_party_name
from vfl.wire.v1 import common_pb2

__all__ = ["DEFAULT_TIMEOUT_S", "MAX_MESSAGE_BYTES", "Channel", "ChannelStats", "valid_topic"]

M = TypeVar("M", bound=Message)

DEFAULT_TIMEOUT_S = 600.0
MAX_MESSAGE_BYTES = 1 << 30
_TOPIC = re.compile(r"^[a-z0-9][a-z0-9/_.-]{0,199}$")


def valid_topic(topic: str) -> bool:
    """Topics name the round (``sbt/tree3/node5/hist``): lower-case path words, 200 chars."""
    return bool(_TOPIC.match(topic))


@dataclass
class ChannelStats:
    """What one party sent and how long it waited on peers (the 'network' share of wall time)."""

    bytes_sent: dict[str, int] = field(default_factory=dict)
    messages_sent: dict[str, int] = field(default_factory=dict)
    wait_seconds: float = 0.0

    @property
    def total_bytes_sent(self) -> int:
        return sum(self.bytes_sent.values())


class Channel(ABC):
    """A party's view of the federation for one job."""

    def __init__(
        self,
        me: str,
        peers: list[str],
        job_id: str,
        timeout: float = DEFAULT_TIMEOUT_S,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
    ):
        self.me = check_party_name(me)
        self.peers = [check_party_name(p) for p in peers if p != me]
        self.job_id = check_job_id(job_id)
        self.timeout = timeout
        self.max_message_bytes = max_message_bytes
        self.stats = ChannelStats()

    # -- what protocols use -------------------------------------------------------------------
    def send(self, peer: str, topic: str, msg: Message) -> None:
        self._check(peer, topic)
        payload = msg.SerializeToString()
        if len(payload) > self.max_message_bytes:
            raise WireError(
                f"message {topic} is {len(payload)} bytes, over the {self.max_message_bytes} limit",
                "raise the message size limit on every party if the data really is that large",
            )
        env = common_pb2.Envelope(
            job_id=self.job_id,
            sender=self.me,
            receiver=peer,
            topic=topic,
            type=msg.DESCRIPTOR.full_name,
            payload=payload,
            chunk=0,
            chunks=1,
        )
        self._deliver(peer, topic, env)
        self.stats.bytes_sent[peer] = self.stats.bytes_sent.get(peer, 0) + len(payload)
        self.stats.messages_sent[peer] = self.stats.messages_sent.get(peer, 0) + 1

    def recv(self, peer: str, topic: str, kind: type[M], timeout: float | None = None) -> M:
        self._check(peer, topic)
        t0 = time.perf_counter()
        try:
            env = self._collect(peer, topic, self.timeout if timeout is None else timeout)
        finally:
            self.stats.wait_seconds += time.perf_counter() - t0
        return self._open(env, peer, topic, kind)

    def broadcast(self, topic: str, msg: Message, peers: list[str] | None = None) -> None:
        for p in self.peers if peers is None else peers:
            self.send(p, topic, msg)

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release transport resources; the default channel holds none."""

    # -- what transports implement -----------------------------------------------------------
    @abstractmethod
    def _deliver(self, peer: str, topic: str, env: common_pb2.Envelope) -> None:
        """Hand an envelope to ``peer``'s mailbox (may block on back-pressure)."""

    @abstractmethod
    def _collect(self, peer: str, topic: str, timeout: float) -> common_pb2.Envelope:
        """Wait for the envelope ``peer`` sent us under ``topic``; raise PeerError on timeout."""

    # -- checks -------------------------------------------------------------------------------
    def _check(self, peer: str, topic: str) -> None:
        if peer not in self.peers:
            raise WireError(f"{peer!r} is not a peer of {self.me!r} in job {self.job_id}")
        if not valid_topic(topic):
            raise WireError(f"topic {topic!r} is malformed")

    def _open(self, env: common_pb2.Envelope, peer: str, topic: str, kind: type[M]) -> M:
        expected = kind.DESCRIPTOR.full_name
        if env.job_id != self.job_id:
            raise WireError(
                f"{peer} sent a message for job {env.job_id!r} while we run {self.job_id!r}",
                "make sure every party runs the same job file",
            )
        if env.sender != peer or env.receiver != self.me or env.topic != topic:
            raise WireError(
                f"message routed as {env.sender}->{env.receiver} '{env.topic}', "
                f"expected {peer}->{self.me} '{topic}'"
            )
        if env.type != expected:
            raise WireError(f"{peer} sent {env.type} on '{topic}', expected {expected}")
        msg = kind()
        try:
            msg.ParseFromString(env.payload)
        except DecodeError as exc:
            raise WireError(f"{peer} sent a malformed {expected} on '{topic}': {exc}") from exc
        return msg
