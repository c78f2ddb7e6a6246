"""In-memory transport: all parties in one process (simulation and tests).

Messages are serialised exactly as on the network, so the bytes counted and the checks run are
the same as over gRPC. A party that fails is marked dead so that its peers stop waiting at once
instead of running into their timeout.
"""

from __future__ import annotations

import threading
from collections import deque

from vfl.core.errors import PeerError
from vfl.transport.channel import DEFAULT_TIMEOUT_S, MAX_MESSAGE_BYTES, Channel
from vfl.wire.v1 import common_pb2

__all__ = ["MESSAGE_OVERHEAD", "MemoryChannel", "MemoryHub"]

MESSAGE_OVERHEAD = 512  # bytes a queued message costs beyond its payload (envelope, deque, object)


class MemoryHub:
    """Mailboxes keyed by (sender, receiver, topic), shared by the channels of one job."""

    def __init__(
        self,
        parties: list[str],
        job_id: str,
        timeout: float = DEFAULT_TIMEOUT_S,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
    ):
        self.parties = list(parties)
        self.job_id = job_id
        self.timeout = timeout
        self.max_message_bytes = max_message_bytes
        self._boxes: dict[tuple[str, str, str], deque[bytes]] = {}
        self._cond = threading.Condition()
        self._dead: dict[str, str] = {}
        self._queued: dict[str, int] = {}  # bytes waiting in the boxes, per sender

    def channel(self, me: str) -> MemoryChannel:
        return MemoryChannel(self, me)

    def put(self, sender: str, receiver: str, topic: str, data: bytes) -> None:
        with self._cond:
            self._boxes.setdefault((sender, receiver, topic), deque()).append(data)
            self._queued[sender] = self._queued.get(sender, 0) + len(data) + MESSAGE_OVERHEAD
            self._cond.notify_all()

    def queued_bytes(self, sender: str) -> int:
        """What ``sender``'s messages not yet received take here (each counted with an overhead,
        so that many tiny messages count too): the gRPC mailbox caps it per peer."""
        with self._cond:
            return self._queued.get(sender, 0)

    def take(self, sender: str, receiver: str, topic: str, timeout: float) -> bytes:
        key = (sender, receiver, topic)
        with self._cond:
            ok = self._cond.wait_for(
                lambda: bool(self._boxes.get(key)) or sender in self._dead, timeout=timeout
            )
            box = self._boxes.get(key)
            if box:
                data = box.popleft()
                if not box:
                    del self._boxes[key]
                self._queued[sender] = self._queued.get(sender, 0) - len(data) - MESSAGE_OVERHEAD
                return data
            if sender in self._dead:
                raise PeerError(
                    f"{sender} stopped before sending '{topic}' to {receiver}: {self._dead[sender]}",
                    f"see {sender}'s error above; fix it and re-run the job",
                )
            assert not ok
            raise PeerError(
                f"{sender} did not send '{topic}' to {receiver} within {timeout:.0f} s",
                f"check that {sender} is running the same job",
            )

    def mark_dead(self, party: str, reason: str) -> None:
        with self._cond:
            self._dead[party] = reason
            self._cond.notify_all()

    def pending(self) -> int:
        with self._cond:
            return sum(len(b) for b in self._boxes.values())


class MemoryChannel(Channel):
    def __init__(self, hub: MemoryHub, me: str):
        super().__init__(me, hub.parties, hub.job_id, hub.timeout, hub.max_message_bytes)
        self.hub = hub

    def _deliver(self, peer: str, topic: str, env: common_pb2.Envelope) -> None:
        self.hub.put(self.me, peer, topic, env.SerializeToString())

    def _collect(self, peer: str, topic: str, timeout: float) -> common_pb2.Envelope:
        env = common_pb2.Envelope()
        env.ParseFromString(self.hub.take(peer, self.me, topic, timeout))
        return env
