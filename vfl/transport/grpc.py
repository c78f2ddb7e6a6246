"""gRPC transport with mutual TLS: each party runs one Mailbox server, and one client per peer.

- The server requires a client certificate from the federation CA; its mailbox
  (:mod:`vfl.transport.mailbox`) checks every delivery (CN = sender, route, job, chunks, bounds
  on what a peer can make it hold) and logs each refusal.
- Large payloads are cut into chunks (each its own call, well under gRPC's message limit) and
  reassembled by the receiver before anyone parses them.
- Calls have deadlines and bounded retries with backoff while a peer is starting; while we wait
  for a message, the peer is pinged, so a peer that died is reported in seconds, not at timeout.
"""

from __future__ import annotations

import queue
import time
from concurrent.futures import ThreadPoolExecutor

import grpc

from vfl.core.errors import ConfigError, PeerError, WireError
from vfl.transport.channel import DEFAULT_TIMEOUT_S, Channel
from vfl.transport.events import EventLog
from vfl.transport.mailbox import CHUNK_BYTES, GrpcSettings, Router, register
from vfl.transport.memory import MemoryHub
from vfl.transport.tls import TlsFiles
from vfl.wire.v1 import common_pb2, mailbox_pb2_grpc

__all__ = ["CHUNK_BYTES", "GrpcChannel", "GrpcSettings", "MailboxServer"]

_GRPC_LIMIT = CHUNK_BYTES + (1 << 16)
_OPTIONS = [
    ("grpc.max_send_message_length", _GRPC_LIMIT),
    ("grpc.max_receive_message_length", _GRPC_LIMIT),
    ("grpc.keepalive_time_ms", 20_000),
]


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
        self.router = Router(me, set(peers), settings, events)
        self._server = grpc.server(ThreadPoolExecutor(max_workers=8), options=_OPTIONS)
        register(self.router, self._server)
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
