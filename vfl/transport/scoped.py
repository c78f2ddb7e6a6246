"""A Channel that puts every topic of a sub-protocol under a scope (``score/test/...``).

A job may run one sub-protocol twice on the same channel: a training job scores its training
rows, then its test rows, with the same scoring messages. Without a scope the two runs share
topics, so a stale or duplicated message of the first (a gRPC call retried after its deadline,
a peer that resends) would be taken for the second: a duplicated LR mask key made the test
scores' masks not cancel, and the job reported a test AUC of 0.50 without an error (found by
fault injection, issue 18). Under distinct scopes such a message is never read.
"""

from __future__ import annotations

from typing import TypeVar

from google.protobuf.message import Message

from vfl.transport.channel import Channel
from vfl.wire.v1 import common_pb2

__all__ = ["ScopedChannel"]

M = TypeVar("M", bound=Message)


class ScopedChannel(Channel):
    """``inner`` with each topic sent or received as ``scope/topic``; closing it leaves
    ``inner`` open (the job goes on with it)."""

    def __init__(self, inner: Channel, scope: str) -> None:
        super().__init__(
            inner.me, [inner.me, *inner.peers], inner.job_id, inner.timeout, inner.max_message_bytes
        )
        self.inner, self.scope = inner, scope.strip("/")
        self.stats = inner.stats

    def send(self, peer: str, topic: str, msg: Message) -> None:
        self.inner.send(peer, f"{self.scope}/{topic}", msg)

    def recv(self, peer: str, topic: str, kind: type[M], timeout: float | None = None) -> M:
        return self.inner.recv(peer, f"{self.scope}/{topic}", kind, timeout)

    def _deliver(self, peer: str, topic: str, env: common_pb2.Envelope) -> None:
        raise NotImplementedError  # pragma: no cover - send() is overridden

    def _collect(self, peer: str, topic: str, timeout: float) -> common_pb2.Envelope:
        raise NotImplementedError  # pragma: no cover - recv() is overridden
