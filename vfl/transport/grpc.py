"""gRPC transport with mutual TLS: each party runs one Mailbox server, and one client per peer.

- The server requires a client certificate from the federation CA and checks that its CN equals
  the envelope's sender, that the envelope is addressed to us and belongs to our job.
- Large payloads are cut into chunks (each its own call, well under gRPC's message limit) and
  reassembled by the receiver before anyone parses them.
- Calls have deadlines and bounded retries with backoff while a peer is starting; while we wait
  for a message, the peer is pinged, so a peer that died is reported in seconds, not at timeout.
"""

from __future__ import annotations

import queue
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import grpc
from google.protobuf.message import DecodeError

from vfl.core.errors import ConfigError, PeerError, VflError, WireError
from vfl.core.jobs import check_job_id
from vfl.transport.channel import DEFAULT_TIMEOUT_S, MAX_MESSAGE_BYTES, Channel, valid_topic
from vfl.transport.events import EventLog, clip
from vfl.transport.memory import MESSAGE_OVERHEAD, MemoryHub
from vfl.transport.tls import TlsFiles
from vfl.wire.v1 import common_pb2, mailbox_pb2_grpc

__all__ = [
    "CHUNK_BYTES",
    "MAX_PENDING_PROPOSALS",
    "MAX_PROPOSAL_BYTES",
    "GrpcChannel",
    "GrpcSettings",
    "MailboxServer",
    "Refused",
]

CHUNK_BYTES = 2 << 20
_GRPC_LIMIT = CHUNK_BYTES + (1 << 16)
_OPTIONS = [
    ("grpc.max_send_message_length", _GRPC_LIMIT),
    ("grpc.max_receive_message_length", _GRPC_LIMIT),
    ("grpc.keepalive_time_ms", 20_000),
]


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


class _Router(mailbox_pb2_grpc.MailboxServicer):
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
        if hub is None and not proposal:
            open_jobs = ", ".join(repr(j) for j in self.jobs) or "none"
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


def _register(router: _Router, server: grpc.Server) -> None:
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


class MailboxServer:
    """One party's gRPC server (mTLS required) and its clients to every peer. Lives for one job
    (``vfl run``) or for many (``vfl serve``). ``events`` receives the server's structured log
    (refused deliveries, expired partial messages)."""

    def __init__(
        self,
        me: str,
        listen: str,
        peers: dict[str, str],
        tls: TlsFiles,
        settings: GrpcSettings,
        events: EventLog | None = None,
    ):
        self.me, self.addresses, self.settings = me, dict(peers), settings
        ca, cert, key = tls.read()
        self.router = _Router(me, set(peers), settings, events)
        self._server = grpc.server(ThreadPoolExecutor(max_workers=8), options=_OPTIONS)
        _register(self.router, self._server)
        creds = grpc.ssl_server_credentials([(key, cert)], root_certificates=ca, require_client_auth=True)
        try:
            port = self._server.add_secure_port(listen, creds)
        except RuntimeError as exc:
            raise ConfigError(
                f"{me} cannot listen on {listen}: {exc}", "is another process using the port?"
            ) from exc
        if port == 0:
            raise ConfigError(f"{me} cannot listen on {listen}", "is another process using the port?")
        self.port = port
        self._server.start()
        client_creds = grpc.ssl_channel_credentials(
            root_certificates=ca, private_key=key, certificate_chain=cert
        )
        self.stubs: dict[str, mailbox_pb2_grpc.MailboxStub] = {}
        self._channels = []
        for name, addr in peers.items():
            ch = grpc.secure_channel(
                addr, client_creds, options=[*_OPTIONS, ("grpc.ssl_target_name_override", name)]
            )
            self._channels.append(ch)
            self.stubs[name] = mailbox_pb2_grpc.MailboxStub(ch)

    def open_job(self, job_id: str, parties: list[str], timeout: float) -> MemoryHub:
        hub = MemoryHub(parties, job_id, timeout)
        self.router.jobs[job_id] = hub
        return hub

    def close_job(self, job_id: str) -> None:
        self.router.jobs.pop(job_id, None)
        self.router.drop_job(job_id)

    def next_proposal(self, timeout: float | None = None) -> common_pb2.Envelope | None:
        """``vfl serve``: the next job proposal from a peer (None when ``timeout`` passes)."""
        self.router.accept_proposals = True
        try:
            return self.router.proposals.get(timeout=timeout)
        except queue.Empty:
            return None

    def stop(self) -> None:
        self._server.stop(grace=1.0).wait(5.0)
        for ch in self._channels:
            ch.close()


class GrpcChannel(Channel):
    """A party's Channel for one job over gRPC/mTLS. ``peers`` maps each peer to its address.

    With ``server`` given (``vfl serve``), the job uses that long-lived server; otherwise the
    channel runs its own server on ``listen`` and stops it on close.
    """

    def __init__(
        self,
        me: str,
        listen: str,
        peers: dict[str, str],
        job_id: str,
        tls: TlsFiles,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        settings: GrpcSettings | None = None,
        server: MailboxServer | None = None,
    ):
        self.settings = settings or GrpcSettings()
        super().__init__(me, [me, *peers], job_id, timeout, self.settings.max_message_bytes)
        self._own_server = server is None
        self.server = server or MailboxServer(me, listen, peers, tls, self.settings)
        self.addresses = self.server.addresses
        self._stubs = self.server.stubs
        self._hub = self.server.open_job(job_id, [me, *peers], timeout)

    def inject(self, env: common_pb2.Envelope) -> None:
        """File an envelope that reached the server before this job was open (the proposal)."""
        self._hub.put(env.sender, self.me, env.topic, env.SerializeToString())

    # -- sending ---------------------------------------------------------------------------------
    def _deliver(self, peer: str, topic: str, env: common_pb2.Envelope) -> None:
        payload = env.payload
        chunks = max(1, -(-len(payload) // CHUNK_BYTES))
        for i in range(chunks):
            part = common_pb2.Envelope()
            part.CopyFrom(env)
            part.payload = payload[i * CHUNK_BYTES : (i + 1) * CHUNK_BYTES]
            part.chunk, part.chunks = i, chunks
            self._call(peer, part)

    def _call(self, peer: str, env: common_pb2.Envelope) -> None:
        s = self.settings
        start = time.monotonic()
        backoff = 0.1
        while True:
            try:
                self._stubs[peer].Deliver(env, timeout=s.call_timeout, wait_for_ready=False)
                return
            except grpc.RpcError as exc:
                code = exc.code()  # type: ignore[attr-defined]
                details = (exc.details() or "").lower()  # type: ignore[attr-defined]
                if code == grpc.StatusCode.UNAVAILABLE and any(
                    w in details for w in ("handshake", "ssl", "certificate", "tls")
                ):
                    raise PeerError(
                        f"the TLS handshake with {peer} at {self.addresses[peer]} failed: {exc.details()}",  # type: ignore[attr-defined]
                        "both parties need certificates issued by the same federation CA "
                        "(`vfl certs issue DIR NAME`), and the right address",
                    ) from exc
                if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                    if time.monotonic() - start + backoff > s.connect_timeout:
                        raise PeerError(
                            f"{peer} at {self.addresses[peer]} did not answer in {s.connect_timeout:.0f} s "
                            f"({exc.details()})",  # type: ignore[attr-defined]
                            "is `vfl serve` / `vfl run` running there, and is the address right?",
                        ) from exc
                    time.sleep(backoff)
                    backoff = min(backoff * 2, 2.0)
                    continue
                raise _rejected(peer, self.addresses[peer], exc) from exc

    # -- receiving -------------------------------------------------------------------------------
    def _collect(self, peer: str, topic: str, timeout: float) -> common_pb2.Envelope:
        s = self.settings
        deadline = time.monotonic() + timeout
        unreachable_since: float | None = None
        while True:
            step = min(s.ping_every, max(0.0, deadline - time.monotonic()))
            try:
                data = self._hub.take(peer, self.me, topic, step)
                env = common_pb2.Envelope()
                env.ParseFromString(data)
                return env
            except PeerError:
                if time.monotonic() >= deadline:
                    raise PeerError(
                        f"{peer} did not send '{topic}' within {timeout:.0f} s",
                        f"check {peer}'s log; it may be stuck or running another job",
                    ) from None
            if self._alive(peer):
                unreachable_since = None
            else:
                unreachable_since = unreachable_since or time.monotonic()
                if time.monotonic() - unreachable_since >= s.dead_after:
                    raise PeerError(
                        f"{peer} at {self.addresses[peer]} stopped answering while we waited for '{topic}'",
                        f"{peer}'s process probably died: check its log, then re-run the job (use --resume "
                        "where the model supports it)",
                    )

    def _alive(self, peer: str) -> bool:
        try:
            self._stubs[peer].Ping(common_pb2.Ack(status="ping"), timeout=2.0)
            return True
        except grpc.RpcError:
            return False

    def close(self) -> None:
        self.server.close_job(self.job_id)
        if self._own_server:
            self.server.stop()


def _rejected(peer: str, address: str, exc: grpc.RpcError) -> Exception:
    code = exc.code()  # type: ignore[attr-defined]
    details = exc.details() or ""  # type: ignore[attr-defined]
    if code == grpc.StatusCode.PERMISSION_DENIED:
        return PeerError(
            f"{peer} at {address} refused our message: {details}",
            "check the certificates and the party names",
        )
    if code == grpc.StatusCode.FAILED_PRECONDITION:
        return WireError(
            f"{peer} refused our message: {details}", "make sure every party runs the same job file"
        )
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return WireError(
            f"{peer} refused our message: {details}",
            "a message over the receiver's size limit (GrpcSettings.max_message_bytes) or a broken "
            "sender; raise the limit on both sides if the data really is that large",
        )
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        return WireError(
            f"{peer} refused a message over its size limit: {details}", "raise the limit on both sides"
        )
    return PeerError(f"{peer} at {address} failed: {code.name} {details}", "check its log")
