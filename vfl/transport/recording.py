"""A Channel wrapper that records every message a party sends, for tests that check the wire
against the protocol spec (who sent what type, on which topic, with how many bytes)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TypeVar

from google.protobuf.message import Message

from vfl.transport.channel import Channel
from vfl.wire.v1 import common_pb2

__all__ = ["RecordedMessage", "RecordingChannel"]

M = TypeVar("M", bound=Message)


@dataclass(frozen=True)
class RecordedMessage:
    sender: str
    receiver: str
    topic: str
    type: str
    payload: bytes


class RecordingChannel(Channel):
    """Delegates to ``inner`` and appends each sent message to the shared ``log``."""

    def __init__(self, inner: Channel, log: list[RecordedMessage], lock: threading.Lock | None = None):
        super().__init__(inner.me, [inner.me, *inner.peers], inner.job_id, inner.timeout)
        self.inner = inner
        self.log = log
        self._lock = lock or threading.Lock()
        self.stats = inner.stats

    def send(self, peer: str, topic: str, msg: Message) -> None:
        self.inner.send(peer, topic, msg)
        rec = RecordedMessage(self.me, peer, topic, msg.DESCRIPTOR.full_name, msg.SerializeToString())
        with self._lock:
            self.log.append(rec)

    def recv(self, peer: str, topic: str, kind: type[M], timeout: float | None = None) -> M:
        return self.inner.recv(peer, topic, kind, timeout)

    def close(self) -> None:
        self.inner.close()

    def _deliver(self, peer: str, topic: str, env: common_pb2.Envelope) -> None:
        raise NotImplementedError  # pragma: no cover - send() is overridden

    def _collect(self, peer: str, topic: str, timeout: float) -> common_pb2.Envelope:
        raise NotImplementedError  # pragma: no cover - recv() is overridden
