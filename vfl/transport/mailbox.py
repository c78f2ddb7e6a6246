"""The server side of the gRPC mailbox: every delivery a peer makes is checked here, and
refused (and logged) at the first check it fails, before anything is parsed or kept.

Checks, in order: the mTLS certificate's CN is the envelope's sender; the sender is a configured
peer and the envelope is addressed to us; topic and type are well formed; the job is open (or the
delivery is a job proposal while ``vfl serve`` waits: a valid job id, one chunk of at most 64
KiB, at most 8 waiting); the sender is a party of that job; chunks are numbered in order and
each is at most 2 MiB, the message at most ``max_message_bytes``. What a peer can make us hold
is bounded per peer: unfinished chunked messages (count, bytes, and a deadline after the last
chunk; a closed job's go at once) and whole messages the job has not read yet (bytes).

Undecodable requests reach :class:`Router` as a sentinel instead of failing inside gRPC (which
gave the sender an opaque INTERNAL status, the operator no log line, and leaked about 19 KB per
request), so they are refused and logged like every other bad delivery.
"""

from __future__ import annotations

import queue
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import grpc
from google.protobuf.message import DecodeError

from vfl.core.errors import VflError
from vfl.core.jobs import check_job_id
from vfl.transport.channel import MAX_MESSAGE_BYTES, valid_topic
from vfl.transport.events import EventLog, clip
from vfl.transport.memory import MESSAGE_OVERHEAD, MemoryHub
from vfl.wire.v1 import common_pb2, mailbox_pb2_grpc

__all__ = [
    "CHUNK_BYTES",
    "MAX_PENDING_PROPOSALS",
    "MAX_PROPOSAL_BYTES",
    "GrpcSettings",
    "Refused",
    "Router",
    "register",
]

CHUNK_BYTES = 2 << 20


@dataclass(frozen=True)
class GrpcSettings:
    connect_timeout: float = 30.0  # how long a peer may take to come up
    call_timeout: float = 60.0  # deadline of one Deliver call
    ping_every: float = 2.0  # liveness checks while waiting for a peer
    dead_after: float = 10.0  # unreachable this long while we wait -> the peer is gone
    max_message_bytes: int = MAX_MESSAGE_BYTES
    # unfinished chunked messages a server holds for one peer: how many, how many bytes in all,
    # and how long one may wait for its next chunk before it is dropped
    max_partials_per_peer: int = 8
    max_partial_bytes_per_peer: int = MAX_MESSAGE_BYTES
    partial_timeout: float = 120.0
    # whole messages from one peer that the job has not received yet (every topic of the job)
    max_queued_bytes_per_peer: int = 2 * MAX_MESSAGE_BYTES


_PROPOSE_TOPIC = "job/propose"
MAX_PROPOSAL_BYTES = 1 << 16  # a JobProposal is a few hundred bytes; it never needs chunks
MAX_PENDING_PROPOSALS = 8  # proposals queued for `vfl serve` before further ones are refused
_TYPE = re.compile(r"^[A-Za-z0-9_.]{1,200}$")


class Refused(Exception):
    """Why the server refuses one delivery (the gRPC status and the reason the sender reads)."""

    def __init__(self, code: grpc.StatusCode, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


@dataclass
class _Partial:
    """The chunks of one message received so far."""

    parts: list[bytes]
    size: int
    touched: float


#: what the request deserializer returns for undecodable bytes (gRPC treats None as its own
#: failure: an INTERNAL status the sender cannot read and no line for the operator)
_UNDECODABLE_ENVELOPE = common_pb2.Envelope()
_UNDECODABLE_ACK = common_pb2.Ack()


def _parse_envelope(data: bytes) -> common_pb2.Envelope:
    """The request deserializer: undecodable bytes reach the router, which refuses and logs them."""
    env = common_pb2.Envelope()
    try:
        env.ParseFromString(data)
    except DecodeError:
        return _UNDECODABLE_ENVELOPE
    return env


def _parse_ack(data: bytes) -> common_pb2.Ack:
    ack = common_pb2.Ack()
    try:
        ack.ParseFromString(data)
    except DecodeError:
        return _UNDECODABLE_ACK
    return ack


class Router(mailbox_pb2_grpc.MailboxServicer):
    """Checks each delivery against mTLS identity and route, reassembles chunks, and files it in
    the inbox of its job. A job proposal for a job not yet open is queued for ``vfl serve``.

    Everything in a request is a peer's choice, so every check raises :class:`Refused`, which
    :meth:`Deliver` turns into a logged refusal; an unexpected error becomes an INTERNAL status
    for that call only. Unfinished chunked messages are bounded per peer (count and bytes) and
    expire, and a job's leftovers go when the job closes.
    """

    def __init__(self, me: str, peers: set[str], settings: GrpcSettings, events: EventLog | None = None):
        self.me, self.peers, self.settings = me, peers, settings
        self.limit = settings.max_message_bytes
        self.events = events
        self.audit: Callable[[common_pb2.Envelope], None] | None = None  # sees every whole envelope
        self.jobs: dict[str, MemoryHub] = {}
        self.proposals: queue.Queue[common_pb2.Envelope] = queue.Queue(maxsize=MAX_PENDING_PROPOSALS)
        self.accept_proposals = False
        self.refused = 0
        self._parts: dict[tuple[str, str, str], _Partial] = {}
        self._lock = threading.Lock()

    # -- the service --------------------------------------------------------------------------
    def Deliver(self, request: common_pb2.Envelope, context: grpc.ServicerContext) -> common_pb2.Ack:
        cn = [v.decode(errors="replace") for v in context.auth_context().get("x509_common_name", [])]
        try:
            if request is _UNDECODABLE_ENVELOPE:
                raise Refused(grpc.StatusCode.INVALID_ARGUMENT, "the request is not a decodable Envelope")
            return self._deliver(request, cn)
        except Refused as r:
            refusal = r
        except Exception as exc:  # a bug must cost this call, never the server
            refusal = Refused(grpc.StatusCode.INTERNAL, f"{self.me} could not file the message: {exc!r}")
        self._log_refusal(request, cn, refusal)
        context.abort(refusal.code, refusal.reason)
        raise AssertionError("unreachable: context.abort raises")  # pragma: no cover

    def Ping(self, request: common_pb2.Ack, context: grpc.ServicerContext) -> common_pb2.Ack:
        self.expire()
        return common_pb2.Ack(status="alive")

    # -- checks and filing --------------------------------------------------------------------
    def _deliver(self, request: common_pb2.Envelope, cn: list[str]) -> common_pb2.Ack:
        self.expire()
        if request.sender not in cn:
            raise Refused(
                grpc.StatusCode.PERMISSION_DENIED,
                f"certificate CN {cn} does not match sender {clip(request.sender, 64)!r}",
            )
        if request.sender not in self.peers or request.receiver != self.me:
            raise Refused(
                grpc.StatusCode.PERMISSION_DENIED,
                f"{request.sender}->{clip(request.receiver, 64)} is not a route of {self.me}",
            )
        if not valid_topic(request.topic) or not _TYPE.match(request.type):
            raise Refused(grpc.StatusCode.INVALID_ARGUMENT, "malformed topic or message type")
        hub = self.jobs.get(request.job_id)
        proposal = hub is None and self.accept_proposals and request.topic == _PROPOSE_TOPIC
        if hub is None and not proposal and not self.jobs:
            # the party's process is up but has not opened its side of the job yet: a start race,
            # not a refusal; UNAVAILABLE makes the sender retry within its connect timeout
            raise Refused(grpc.StatusCode.UNAVAILABLE, f"{self.me} has not opened a job yet")
        if hub is None and not proposal:
            open_jobs = ", ".join(repr(j) for j in self.jobs)
            raise Refused(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"{self.me} runs job {open_jobs}, not {clip(request.job_id, 64)!r}",
            )
        if proposal:
            self._check_proposal(request)
        elif hub is not None and request.sender not in hub.parties:
            raise Refused(
                grpc.StatusCode.PERMISSION_DENIED,
                f"{request.sender} is not a party of job {request.job_id!r}",
            )
        if (
            request.chunks < 1
            or request.chunk >= request.chunks
            or (request.chunks - 1) * CHUNK_BYTES > self.limit
            or len(request.payload) > CHUNK_BYTES
        ):
            raise Refused(
                grpc.StatusCode.INVALID_ARGUMENT, "bad chunk numbering or message over the size limit"
            )
        payload = request.payload if request.chunks == 1 else self._reassemble(request)
        if payload is None:
            return common_pb2.Ack(status="chunk")
        whole = common_pb2.Envelope()
        whole.CopyFrom(request)
        whole.payload = payload
        whole.chunk, whole.chunks = 0, 1
        if proposal:
            try:
                self.proposals.put_nowait(whole)
            except queue.Full:
                raise Refused(
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                    f"{self.me} has {MAX_PENDING_PROPOSALS} job proposals waiting; try again later",
                ) from None
        else:
            assert hub is not None
            data = whole.SerializeToString()
            queued = hub.queued_bytes(request.sender)
            if queued + len(data) + MESSAGE_OVERHEAD > self.settings.max_queued_bytes_per_peer:
                raise Refused(
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                    f"{self.me} holds {queued} bytes of {request.sender}'s messages that job "
                    f"{request.job_id} has not read; the limit is {self.settings.max_queued_bytes_per_peer}",
                )
            hub.put(request.sender, self.me, request.topic, data)
        if self.audit is not None:
            self.audit(whole)
        return common_pb2.Ack(status="ok")

    def _check_proposal(self, request: common_pb2.Envelope) -> None:
        try:
            check_job_id(request.job_id)
        except VflError:
            raise Refused(
                grpc.StatusCode.INVALID_ARGUMENT, f"job id {clip(request.job_id, 64)!r} is not allowed"
            ) from None
        if request.chunks != 1 or len(request.payload) > MAX_PROPOSAL_BYTES:
            raise Refused(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"a job proposal must be one chunk of at most {MAX_PROPOSAL_BYTES} bytes",
            )

    def _reassemble(self, request: common_pb2.Envelope) -> bytes | None:
        """Add one chunk; the whole payload once the last chunk is in, else None."""
        s = self.settings
        key = (request.job_id, request.sender, request.topic)
        with self._lock:
            part = self._parts.get(key)
            have = 0 if part is None else len(part.parts)
            if request.chunk != have:
                self._parts.pop(key, None)
                raise Refused(
                    grpc.StatusCode.INVALID_ARGUMENT, f"chunk {request.chunk} out of order on {request.topic}"
                )
            if part is None:
                mine = [p for k, p in self._parts.items() if k[1] == request.sender]
                held = sum(p.size for p in mine)
                if len(mine) >= s.max_partials_per_peer:
                    raise Refused(
                        grpc.StatusCode.RESOURCE_EXHAUSTED,
                        f"{self.me} already holds {len(mine)} unfinished messages from {request.sender}",
                    )
                part = self._parts[key] = _Partial([], 0, time.monotonic())
            else:
                held = sum(p.size for k, p in self._parts.items() if k[1] == request.sender)
            if held + len(request.payload) > s.max_partial_bytes_per_peer:
                self._parts.pop(key, None)
                raise Refused(
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                    f"{self.me} holds {held} bytes of unfinished messages from {request.sender}; "
                    f"the limit is {s.max_partial_bytes_per_peer}",
                )
            part.parts.append(request.payload)
            part.size += len(request.payload)
            part.touched = time.monotonic()
            if len(part.parts) < request.chunks:
                return None
            del self._parts[key]
        return b"".join(part.parts)

    # -- bounds over time ---------------------------------------------------------------------
    def expire(self, now: float | None = None) -> int:
        """Drop unfinished messages whose next chunk is overdue; returns how many went."""
        now = time.monotonic() if now is None else now
        with self._lock:
            old = [k for k, p in self._parts.items() if now - p.touched > self.settings.partial_timeout]
            dropped = [(k, self._parts.pop(k)) for k in old]
        for (job, sender, topic), p in dropped:
            if self.events is not None:
                self.events(
                    "partial_expired", peer=sender, job=job, topic=topic, bytes=p.size, chunks=len(p.parts)
                )
        return len(dropped)

    def drop_job(self, job_id: str) -> None:
        """The job closed: its unfinished messages will never complete."""
        with self._lock:
            for k in [k for k in self._parts if k[0] == job_id]:
                del self._parts[k]

    def partial_bytes(self, sender: str | None = None) -> int:
        """Bytes of unfinished messages held (from ``sender``, or from everyone)."""
        with self._lock:
            return sum(p.size for k, p in self._parts.items() if sender in (None, k[1]))

    def _log_refusal(self, request: common_pb2.Envelope, cn: list[str], r: Refused) -> None:
        with self._lock:
            self.refused += 1
        if self.events is None:
            return
        if request is _UNDECODABLE_ENVELOPE:
            self.events("delivery_refused", r.reason, code=r.code.name, cn=",".join(cn))
            return
        self.events(
            "delivery_refused",
            r.reason,
            code=r.code.name,
            cn=",".join(cn),
            peer=request.sender,
            job=request.job_id,
            topic=request.topic,
            type=request.type,
            chunk=request.chunk,
            chunks=request.chunks,
            bytes=len(request.payload),
        )


def register(router: Router, server: grpc.Server) -> None:
    """The Mailbox service with tolerant deserializers (see :func:`_parse_envelope`)."""
    handlers = {
        "Deliver": grpc.unary_unary_rpc_method_handler(
            router.Deliver,
            request_deserializer=_parse_envelope,
            response_serializer=common_pb2.Ack.SerializeToString,
        ),
        "Ping": grpc.unary_unary_rpc_method_handler(
            router.Ping,
            request_deserializer=_parse_ack,
            response_serializer=common_pb2.Ack.SerializeToString,
        ),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("vfl.v1.Mailbox", handlers),))
