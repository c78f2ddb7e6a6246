"""gRPC transport with mutual TLS: each party runs one Mailbox server, and one client per peer.

- The server requires a client certificate from the federation CA; its mailbox
  (:mod:`vfl.transport.mailbox`) checks every delivery (CN = sender, route, job, chunks, bounds
  on what a peer can make it hold) and logs each refusal.
- Large payloads are cut into chunks (each its own call, well under gRPC's message limit) and
  reassembled by the receiver before anyone parses them.
- Calls have deadlines and bounded retries with backoff while a peer is starting; while we wait
  for a message, the peer is asked how *this job* stands there (liveness per job, not per
  process: see :mod:`vfl.transport.mailbox`), so a peer that died, restarted, or ended the job
  is reported in seconds, naming the party at fault, not at timeout. Each call also carries the
  proposer's run token of its run, so a call left over from an older run of the proposer is
  refused as stale instead of being read as a restart of its sender.
- A failed TLS handshake is probed outside gRPC (:func:`vfl.transport.tls.peer_cert`) to say
  whose certificate is wrong: another CA, another party's name, or ours refused.
"""

from __future__ import annotations

import queue
import secrets
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import grpc

from vfl.core.errors import ConfigError, PeerError, VflError, WireError
from vfl.transport.channel import DEFAULT_TIMEOUT_S, Channel
from vfl.transport.events import EventLog
from vfl.transport.mailbox import (
    CHUNK_BYTES,
    END_TOPIC,
    JOB_KEY,
    LEAD_KEY,
    NOT_OPEN,
    RUN_KEY,
    STALE,
    GrpcSettings,
    JobState,
    Proposal,
    Router,
    parse_job_state,
    register,
)
from vfl.transport.memory import MemoryHub
from vfl.transport.tls import TlsFiles, peer_cert
from vfl.wire.v1 import common_pb2, mailbox_pb2_grpc

__all__ = ["CHUNK_BYTES", "GrpcChannel", "GrpcSettings", "MailboxServer", "Proposal"]

_GRPC_LIMIT = CHUNK_BYTES + (1 << 16)
E = TypeVar("E", bound=VflError)
_TLS_WORDS = ("handshake", "ssl", "certificate", "tls")
_OPTIONS = [
    ("grpc.max_send_message_length", _GRPC_LIMIT),
    ("grpc.max_receive_message_length", _GRPC_LIMIT),
    ("grpc.keepalive_time_ms", 20_000),
]


class MailboxServer:
    """One party's gRPC server (mTLS required) and its clients to every peer. Lives for one job
    (``vfl run``) or for many (``vfl serve``). ``events`` receives the server's structured log
    (refused deliveries, expired partial messages, restarted peers)."""

    def __init__(
        self,
        me: str,
        listen: str,
        peers: dict[str, str],
        tls: TlsFiles,
        settings: GrpcSettings,
        events: EventLog | None = None,
    ):
        self.me, self.addresses, self.settings, self.tls = me, dict(peers), settings, tls
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

    def open_job(
        self,
        job_id: str,
        parties: list[str],
        timeout: float,
        token: str = "",
        proposer: str = "",
        lead: str = "",
    ) -> MemoryHub:
        """Open our run of ``job_id`` (``token``: its run token, random if not given), which
        belongs to ``proposer``'s run ``lead`` of the job (see :meth:`Router.open_run`)."""
        hub = MemoryHub(parties, job_id, timeout)
        self.router.open_run(job_id, hub, token or secrets.token_hex(8), proposer, lead)
        return hub

    def close_job(self, job_id: str, outcome: str = "done", blame: str = "", reason: str = "") -> None:
        self.router.end_run(job_id, outcome, blame, reason)

    def next_proposal(self, timeout: float | None = None) -> Proposal | None:
        """``vfl serve``: the next job proposal from a peer (None when ``timeout`` passes)."""
        self.router.accept_proposals = True
        try:
            return self.router.proposals.get(timeout=timeout)
        except queue.Empty:
            return None

    def job_state(
        self, peer: str, job_id: str, token: str = "", lead: str = "", wait: float = 0.0
    ) -> JobState | None:
        """How ``job_id`` stands at ``peer`` (None: unreachable), asked as our run ``token`` of
        the proposer's run ``lead``. ``wait``: seconds to wait for a connection that is down
        (a peer's server that just restarted on its port), not just the fail-fast default."""
        meta = [(JOB_KEY, job_id)] + ([(RUN_KEY, token)] if token else [])
        meta += [(LEAD_KEY, lead)] if lead else []
        try:
            ack = self.stubs[peer].Ping(
                common_pb2.Ack(status="ping"),
                timeout=max(2.0, wait),
                metadata=meta,
                wait_for_ready=wait > 0,
            )
        except grpc.RpcError as exc:
            if _is_tls(exc):
                raise self.tls_failure(peer, exc) from None
            return None
        return parse_job_state(ack.status, [self.me, *self.addresses])

    def stale(self, proposal: Proposal) -> str | None:
        """Why a queued proposal is stale (its proposer's run ended, or it restarted), else None."""
        env = proposal.envelope
        if not proposal.token:
            return None  # a caller without run tokens: nothing to compare
        # the proposer's server may have just restarted on its port (our connection to it is
        # then in reconnect backoff): a fail-fast ping would drop a fresh proposal
        state = self.job_state(env.sender, env.job_id, wait=min(5.0, self.settings.connect_timeout))
        if state is None:
            return f"{env.sender} no longer answers"
        if state.kind != "open":
            return f"{env.sender}'s run of job {env.job_id} that proposed it has ended"
        if state.token != proposal.token:
            return f"{env.sender} started job {env.job_id} again since it proposed it"
        return None

    def tls_failure(self, peer: str, exc: grpc.RpcError) -> PeerError:
        """Name the party at fault for a failed handshake with ``peer``, and what to do."""
        addr = self.addresses[peer]
        probe = peer_cert(addr, self.tls)
        ca = self.tls.ca
        if not probe.reached:
            return PeerError(
                f"the TLS handshake with {peer} at {addr} failed ({_details(exc)}), and a probe "
                f"could not connect ({probe.error})",
                f"check that {peer} runs at {addr} and that both parties hold certificates from the "
                "same federation CA",
            )
        if peer not in probe.names:
            return PeerError(
                f"the server at {addr} presents a certificate for {', '.join(probe.names) or 'nobody'}, "
                f"not for {peer}",
                f"{self.me}'s address for {peer} (under [peers]) is wrong, or {peer} runs with another "
                "party's certificate",
            )
        if not probe.issued_by_our_ca:
            others = {q: peer_cert(a, self.tls) for q, a in self.addresses.items() if q != peer}
            trusted = [q for q, pc in others.items() if pc.reached and pc.issued_by_our_ca]
            if others and not trusted and all(pc.reached for pc in others.values()):
                return PeerError(
                    f"{self.me} holds certificates from another federation: no peer's certificate "
                    f"({', '.join([peer, *others])}) is issued by {self.me}'s CA ({ca})",
                    f"give {self.me} the federation's ca.pem and a certificate issued by it "
                    f"(`vfl certs issue DIR {self.me}` where the federation CA is), then re-run",
                )
            if trusted:
                return PeerError(
                    f"{peer}'s certificate at {addr} is not issued by the federation CA, which "
                    f"issued {', '.join(trusted)}'s and {self.me}'s ({ca})",
                    f"{peer} must use a certificate from the federation CA (`vfl certs issue DIR "
                    f"{peer}`) and its ca.pem, then restart",
                )
            return PeerError(
                f"{peer}'s certificate at {addr} is not issued by {self.me}'s CA ({ca}): {peer} or "
                f"{self.me} holds certificates from another federation",
                "every party needs the same ca.pem and a certificate issued by it "
                "(`vfl certs issue DIR NAME`)",
            )
        if probe.accepts_ours is False:
            return PeerError(
                f"{peer} at {addr} refused {self.me}'s certificate ({self.tls.cert}): {peer} trusts "
                f"another CA than the one that issued {self.me}'s and {peer}'s certificates",
                f"{peer} must use the federation's ca.pem ({ca} here), then restart",
            )
        return PeerError(
            f"the TLS handshake with {peer} at {addr} failed: {_details(exc)}",
            "both parties need certificates issued by the same federation CA "
            "(`vfl certs issue DIR NAME`), and the right address",
        )

    def stop(self) -> None:
        self._server.stop(grace=1.0).wait(5.0)
        for ch in self._channels:
            ch.close()


class GrpcChannel(Channel):
    """A party's Channel for one job over gRPC/mTLS. ``peers`` maps each peer to its address.

    With ``server`` given (``vfl serve``), the job uses that long-lived server; otherwise the
    channel runs its own server on ``listen`` and stops it on close. Each channel is one *run*
    of the job, with its own random token sent on every call: a party that restarts is a new run.
    ``proposer`` (the label holder, who proposes the job) ties the run to the proposer's run:
    every call also carries the proposer's token (ours if we propose; ``lead`` where known at
    open, else learnt from the proposer's first call), so a call of an older run of the proposer
    is refused as stale, never taken as a restart of its sender.
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
        proposer: str = "",
        lead: str = "",
    ):
        self.settings = settings or GrpcSettings()
        super().__init__(me, [me, *peers], job_id, timeout, self.settings.max_message_bytes)
        self._own_server = server is None
        self.server = server or MailboxServer(me, listen, peers, tls, self.settings)
        self.addresses = self.server.addresses
        self._stubs = self.server.stubs
        self.token = secrets.token_hex(8)
        self.proposer, self._lead = proposer, lead
        self._hub = self.server.open_job(job_id, [me, *peers], timeout, self.token, proposer, lead)
        self._router = self.server.router
        self._opened = time.monotonic()
        self._seen: set[str] = set()  # peers that answered at least once
        self._blame = ""  # the party our last PeerError named
        self._failure: BaseException | None = None
        self._closed = False  # a thread of the job still calling after close fails at once

    @property
    def lead(self) -> str:
        """The proposer's run token of our run ('' until the proposer has called us); once
        known it is kept, so the calls of this run carry it even after the run ended."""
        if not self._lead:
            self._lead = self._router.lead(self.job_id, self.token)
        return self._lead

    def _metadata(self) -> tuple[tuple[str, str], ...]:
        lead = self.lead
        return ((RUN_KEY, self.token),) + (((LEAD_KEY, lead),) if lead else ())

    def _state(self, peer: str) -> JobState | None:
        return self.server.job_state(peer, self.job_id, self.token, self.lead)

    def inject(self, proposal: Proposal) -> None:
        """File the proposal that reached the server before this job was open."""
        env = proposal.envelope
        self._router.note_run(self.job_id, env.sender, proposal.token)
        self._hub.put(env.sender, self.me, env.topic, env.SerializeToString())

    def wait_for_peers(self, report: Callable[[dict[str, str], float], None] | None = None) -> None:
        """The start barrier: wait until every peer's server answers (at most the connect
        timeout), telling ``report`` at once and every few seconds who is still awaited and how
        many seconds are left; then fail naming every absent peer and its address."""
        s = self.settings
        deadline = self._opened + s.connect_timeout
        waiting = dict(self.addresses)
        next_report = 0.0
        while True:
            for peer in list(waiting):
                if self._state(peer) is not None:
                    self._seen.add(peer)
                    del waiting[peer]
            now = time.monotonic()
            if not waiting:
                return
            if now >= deadline:
                names = ", ".join(f"{p} at {a}" for p, a in waiting.items())
                self._blame = next(iter(waiting))
                raise PeerError(
                    f"{names} did not answer in {s.connect_timeout:.0f} s",
                    "is `vfl serve` / `vfl run` running there, and is the address right?",
                )
            if report is not None and now >= next_report:
                report(waiting, deadline - now)
                next_report = now + min(3.0, max(1.0, s.connect_timeout / 10))
            time.sleep(min(0.5, max(0.0, deadline - now)))

    def fail(self, exc: BaseException) -> None:
        """Our side of the job failed: peers that ask are told why (and whom we blamed)."""
        self._failure = exc

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
            self._check_open()
            try:
                self._stubs[peer].Deliver(
                    env, timeout=s.call_timeout, wait_for_ready=False, metadata=self._metadata()
                )
                return
            except grpc.RpcError as exc:
                code = exc.code()  # type: ignore[attr-defined]
                if _is_tls(exc):
                    raise self._blamed(peer, self.server.tls_failure(peer, exc)) from None
                if STALE in _details(exc):
                    over = self._stale_problem(peer, env.topic, final=code != grpc.StatusCode.UNAVAILABLE)
                    if over is not None:
                        raise over from None
                if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                    if time.monotonic() - start + backoff > s.connect_timeout:
                        raise self._blamed(peer, self._no_answer(peer, exc)) from exc
                    time.sleep(backoff)
                    backoff = min(backoff * 2, 2.0)
                    continue
                raise self._blamed(peer, _rejected(peer, self.addresses[peer], exc)) from exc

    def _no_answer(self, peer: str, exc: grpc.RpcError) -> PeerError:
        s, addr = self.settings, self.addresses[peer]
        if NOT_OPEN in _details(exc):
            return PeerError(
                f"{peer} at {addr} is up but did not open job {self.job_id} in {s.connect_timeout:.0f} s "
                f"({_details(exc)})",
                f"is {peer} running this job (`vfl run JOB --as {peer}`), or serving (`vfl serve`) "
                f"with a policy that accepts it? check {peer}'s log",
            )
        return PeerError(
            f"{peer} at {addr} did not answer in {s.connect_timeout:.0f} s ({_details(exc)})",
            "is `vfl serve` / `vfl run` running there, and is the address right?",
        )

    # -- receiving -------------------------------------------------------------------------------
    def _collect(self, peer: str, topic: str, timeout: float) -> common_pb2.Envelope:
        s = self.settings
        deadline = time.monotonic() + timeout
        unreachable_since: float | None = None
        while True:
            self._check_open()
            data = self._take(peer, topic, min(s.ping_every, max(0.0, deadline - time.monotonic())))
            if data is None and time.monotonic() >= deadline:
                raise self._blamed(
                    peer,
                    PeerError(
                        f"{peer} did not send '{topic}' within {timeout:.0f} s",
                        f"check {peer}'s log; it may be stuck or running another job",
                    ),
                )
            problem: PeerError | None = None
            if data is None:
                state = self._state(peer)
                now = time.monotonic()
                if state is not None:
                    self._seen.add(peer)
                    unreachable_since = None
                    problem = self._job_problem(peer, topic, state)
                elif peer not in self._seen and now - self._opened >= s.connect_timeout:
                    problem = self._blamed(
                        peer,
                        PeerError(
                            f"{peer} at {self.addresses[peer]} did not come up in {s.connect_timeout:.0f} s",
                            "is `vfl serve` / `vfl run` running there, and is the address right?",
                        ),
                    )
                elif peer in self._seen:
                    unreachable_since = unreachable_since or now
                    if now - unreachable_since >= s.dead_after:
                        problem = self._blamed(
                            peer,
                            PeerError(
                                f"{peer} at {self.addresses[peer]} stopped answering while {self.me} waited "
                                f"for '{topic}'",
                                f"{peer}'s process probably died: check its log, then re-run the job (use "
                                "--resume where the model supports it)",
                            ),
                        )
                if problem is not None:
                    data = self._take(peer, topic, 0.0)  # a last message that beat the end
            if data is not None:
                env = common_pb2.Envelope()
                env.ParseFromString(data)
                return env
            if problem is not None:
                raise problem

    def _check_open(self) -> None:
        if self._closed:
            raise PeerError(
                f"{self.me}'s run of job {self.job_id} has ended",
                "a worker of the ended run is still running: its result is not used",
            )

    def _take(self, peer: str, topic: str, timeout: float) -> bytes | None:
        """The next message from ``peer`` on ``topic``, or None after ``timeout``; the peer's run
        ending (it restarted the job) is an error at once."""
        try:
            return self._hub.take(peer, self.me, topic, timeout)
        except PeerError:
            ended = self._router.peer_ended.get((self.job_id, peer))
            if ended is not None:
                problem = self._job_problem(peer, topic, ended)
                assert problem is not None
                raise problem from None
            why = self._router.gone.get((self.job_id, peer))
            if why is None:
                return None
            raise self._blamed(
                peer, PeerError(why, f"{peer}'s new run of the job will be proposed and run afresh")
            ) from None

    def _job_problem(self, peer: str, topic: str, state: JobState) -> PeerError | None:
        """What the job's state at ``peer`` means for our wait (None: keep waiting)."""
        job, addr = self.job_id, self.addresses[peer]
        if state.kind == "open":
            why = self._router.note_run(job, peer, state.token)
            return None if why is None else self._blamed(peer, PeerError(why, "re-run the job"))
        if state.kind == "stale":
            return self._stale_problem(peer, topic, final=peer == self.proposer)
        if state.kind == "ended":
            if state.outcome == "done":
                return self._blamed(
                    peer,
                    PeerError(
                        f"{peer} finished job {job} without sending '{topic}'",
                        "the parties run different job files or vfl versions: compare their logs",
                    ),
                )
            if state.blame and state.blame not in (peer, self.me):
                return self._blamed(
                    state.blame,
                    PeerError(
                        f"{state.blame} failed job {job} ({peer} ended it: {state.reason})",
                        f"check {state.blame}'s log, then re-run the job",
                    ),
                )
            return self._blamed(
                peer,
                PeerError(
                    f"job {job} failed at {peer}: {state.reason}", f"check {peer}'s log, then re-run the job"
                ),
            )
        if self._router.peer_token(job, peer):
            return self._blamed(
                peer,
                PeerError(
                    f"{peer} at {addr} no longer has job {job} open: it restarted",
                    f"check {peer}'s log, then re-run the job",
                ),
            )
        if time.monotonic() - self._opened >= self.settings.connect_timeout:
            return self._blamed(
                peer,
                PeerError(
                    f"{peer} at {addr} is up but did not open job {job} in "
                    f"{self.settings.connect_timeout:.0f} s",
                    f"is {peer} running this job (`vfl run JOB --as {peer}`), or serving (`vfl serve`) "
                    f"with a policy that accepts it? check {peer}'s log",
                ),
            )
        return None

    def _stale_problem(self, peer: str, topic: str, final: bool) -> PeerError | None:
        """``peer`` runs the job for another run of the proposer than ours. ``final`` (the
        proposer itself said so): our run is over. Otherwise one of the two runs is old, and the
        proposer knows which: our run is over unless the proposer still runs ours (None: keep
        trying; ``peer``'s run will end, or our deadline will)."""
        proposer, job = self.proposer or peer, self.job_id
        if not final and proposer != peer:
            state = self._state(proposer)
            if state is None or (state.kind == "open" and state.token == (self.lead or state.token)):
                return None
            if state.kind != "stale":
                return self._job_problem(proposer, topic, state)
        return self._blamed(
            proposer,
            PeerError(
                f"{proposer} started job {job} again (a new run), so the run {self.me} was part of is over",
                f"{proposer}'s new run of the job will be proposed and run afresh; if it is not, "
                f"check {proposer}'s log",
            ),
        )

    def _tell_peers(self, state: JobState) -> None:
        """Best effort, one short call per peer (not the one we blame): our side of the job
        failed, and why, so that a peer waiting on us names the real cause, not us."""
        reason = " ".join(state.reason.split())[:400]
        note = common_pb2.Ack(
            status=JobState("ended", outcome="failed", blame=state.blame, reason=reason).encode()
        )
        for peer in self.peers:
            if peer == state.blame:
                continue
            env = common_pb2.Envelope(
                job_id=self.job_id, sender=self.me, receiver=peer, topic=END_TOPIC,
                type="vfl.v1.Ack", payload=note.SerializeToString(), chunk=0, chunks=1,
            )  # fmt: skip
            try:
                self._stubs[peer].Deliver(env, timeout=1.0, metadata=self._metadata())
            except grpc.RpcError:
                pass  # that peer is gone too, or has ended the job itself

    def _blamed(self, party: str, err: E) -> E:
        self._blame = party
        return err

    def close(self) -> None:
        self._closed = True
        exc = self._failure
        if exc is None:
            self.server.close_job(self.job_id)
        else:
            cause = getattr(exc, "cause", None) or f"{type(exc).__name__}: {exc}"
            blame = self._blame if isinstance(exc, PeerError) else self.me
            self.server.close_job(self.job_id, "failed", blame, f"{self.me}: {cause}")
            self._tell_peers(JobState("ended", outcome="failed", blame=blame, reason=f"{self.me}: {cause}"))
        if self._own_server:
            self.server.stop()


def _details(exc: grpc.RpcError) -> str:
    return str(exc.details() or "")  # type: ignore[attr-defined]


def _is_tls(exc: grpc.RpcError) -> bool:
    """A failed TLS handshake (gRPC reports it as UNAVAILABLE with the SSL error in details)."""
    details = _details(exc).lower()
    return exc.code() == grpc.StatusCode.UNAVAILABLE and any(w in details for w in _TLS_WORDS)  # type: ignore[attr-defined]


def _rejected(peer: str, address: str, exc: grpc.RpcError) -> PeerError | WireError:
    code = exc.code()  # type: ignore[attr-defined]
    details = _details(exc)
    if code == grpc.StatusCode.PERMISSION_DENIED:
        return PeerError(
            f"{peer} at {address} refused our message: {details}",
            "check the certificates and the party names",
        )
    if code == grpc.StatusCode.FAILED_PRECONDITION and " ended job " in details:
        return PeerError(f"{details}", f"check {peer}'s log, then re-run the job")
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
