"""The server side of the gRPC mailbox: every delivery a peer makes is checked here, and
refused (and logged) at the first check it fails, before anything is parsed or kept.

Checks, in order: the mTLS certificate's CN is the envelope's sender; the sender is a configured
peer and the envelope is addressed to us; topic and type are well formed; the job is open (or the
delivery is a job proposal while ``vfl serve`` waits: a valid job id, one chunk of at most 64
KiB, at most 8 waiting); the sender is a party of that job; chunks are numbered in order and
each is at most 2 MiB, the message at most ``max_message_bytes``. What a peer can make us hold
is bounded per peer: unfinished chunked messages (count, bytes, and a deadline after the last
chunk; a closed job's go at once) and whole messages the job has not read yet (bytes).

Liveness is per job, not per process (issue 18): every call a party makes carries its *run
token* (``vfl-run`` metadata: random per job run, so a restarted party is a new run), and
``Ping`` with ``vfl-job`` metadata answers how that job stands here (:meth:`Router.job_state`:
open with our run token, ended with who was blamed and why, or never opened). A delivery or ping
from a new run of a peer ends the run of the job we hold for its old run at once.

A run of a job belongs to one run of its *proposer* (the label holder): every call also carries
the proposer's run token of the run it belongs to (``vfl-lead``). A call from another party that
carries another proposer run than ours is not taken as a restart of its sender (its token is not
recorded): it is refused as stale, and the Ping asking it is told ``stale``. The proposer refuses
it for good (that run of the proposer is over); a passive refuses it as retryable, because it
cannot tell which of the two runs is the old one: the sender asks the proposer, and whichever
run is old ends (:class:`vfl.transport.grpc.GrpcChannel`). So a label holder that restarts a job
while the passives' old run is still winding down is not mistaken for each passive restarting.

Undecodable requests reach :class:`Router` as a sentinel instead of failing inside gRPC (which
gave the sender an opaque INTERNAL status, the operator no log line, and leaked about 19 KB per
request), so they are refused and logged like every other bad delivery.
"""

from __future__ import annotations

import queue
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

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
    "END_TOPIC",
    "LEAD_KEY",
    "MAX_PENDING_PROPOSALS",
    "MAX_PROPOSAL_BYTES",
    "NOT_OPEN",
    "STALE",
    "GrpcSettings",
    "JobState",
    "Proposal",
    "Refused",
    "Router",
    "parse_job_state",
    "register",
    "run_token_of",
]

CHUNK_BYTES = 2 << 20


@dataclass(frozen=True)
class GrpcSettings:
    connect_timeout: float = 30.0  # how long a peer may take to come up
    call_timeout: float = 60.0  # deadline of one Deliver call
    ping_every: float = 2.0  # liveness checks (of the peer's job) while waiting for a peer
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
END_TOPIC = "job/end"  # a party whose side of a job failed tells its peers how (an Ack: JobState)
MAX_PROPOSAL_BYTES = 1 << 16  # a JobProposal is a few hundred bytes; it never needs chunks
MAX_PENDING_PROPOSALS = 8  # proposals queued for `vfl serve` before further ones are refused
_TYPE = re.compile(r"^[A-Za-z0-9_.]{1,200}$")
_TOKEN = re.compile(r"^[0-9a-f]{16}$")
RUN_KEY, JOB_KEY = "vfl-run", "vfl-job"  # call metadata: the caller's run token, the job asked about
LEAD_KEY = "vfl-lead"  # call metadata: the proposer's run token of the run the call belongs to
NOT_OPEN = "has not opened job"  # in the details of the UNAVAILABLE a sender retries
STALE = "belongs to another run of job"  # in the details of a call refused as stale
MAX_ENDED = 64  # ended jobs remembered, so a late peer is told how the job ended
MAX_REASON_CHARS = 400


def run_token_of(metadata: Sequence[tuple[str, str | bytes]] | None, key: str = RUN_KEY) -> str:
    """The caller's run token (or, with ``key=LEAD_KEY``, its proposer's) from call metadata
    ('' when absent or malformed)."""
    for k, v in metadata or ():
        if k == key and isinstance(v, str) and _TOKEN.match(v):
            return v
    return ""


@dataclass(frozen=True)
class JobState:
    """How a job stands at a peer, as its Ping answers: ``open`` (with the peer's run token),
    ``ended`` (``done`` or ``failed``, the party it blamed and why), ``stale`` (the peer runs the
    job for another run of its proposer than the asker), or ``none`` (never opened, or only for
    another run of ours)."""

    kind: str
    token: str = ""
    outcome: str = ""
    blame: str = ""
    reason: str = ""

    def encode(self) -> str:
        if self.kind == "open":
            return f"open {self.token}"
        if self.kind == "ended":
            return f"ended {self.outcome} {self.blame or '-'} {self.reason}"
        return "stale" if self.kind == "stale" else "none"


def parse_job_state(status: str, parties: Sequence[str]) -> JobState:
    """A peer's Ping answer, bounded: unknown words read as ``none``; a blamed party must be
    one of the job's ``parties``; the reason is clipped."""
    words = status[: MAX_REASON_CHARS + 100].split(" ", 3)
    if words[0] == "open" and len(words) == 2 and _TOKEN.match(words[1]):
        return JobState("open", words[1])
    if words[0] == "ended" and len(words) >= 3 and words[1] in ("done", "failed"):
        blame = words[2] if words[2] in parties else ""
        reason = clip(words[3] if len(words) == 4 else "", MAX_REASON_CHARS)
        return JobState("ended", outcome=words[1], blame=blame, reason=reason)
    return JobState("stale") if words == ["stale"] else JobState("none")


@dataclass
class _Run:
    """Our run of one job: its token, the party that proposed it, and the run token of each
    peer seen in it."""

    token: str
    proposer: str = ""
    peers: dict[str, str] = field(default_factory=dict)
    ended: JobState | None = None


@dataclass(frozen=True)
class Proposal:
    """A queued job proposal and the run token of the proposer's run that sent it."""

    envelope: common_pb2.Envelope
    token: str


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
        self.proposals: queue.Queue[Proposal] = queue.Queue(maxsize=MAX_PENDING_PROPOSALS)
        self.runs: OrderedDict[str, _Run] = OrderedDict()  # open jobs, then the last ended ones
        self.gone: dict[tuple[str, str], str] = {}  # (job, peer) -> why that peer's run ended
        self.peer_ended: dict[tuple[str, str], JobState] = {}  # (job, peer) -> how it told us it ended
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
            meta = context.invocation_metadata()
            return self._deliver(request, cn, run_token_of(meta), run_token_of(meta, LEAD_KEY))
        except Refused as r:
            refusal = r
        except Exception as exc:  # a bug must cost this call, never the server
            refusal = Refused(grpc.StatusCode.INTERNAL, f"{self.me} could not file the message: {exc!r}")
        self._log_refusal(request, cn, refusal)
        context.abort(refusal.code, refusal.reason)
        raise AssertionError("unreachable: context.abort raises")  # pragma: no cover

    def Ping(self, request: common_pb2.Ack, context: grpc.ServicerContext) -> common_pb2.Ack:
        """``alive``; with ``vfl-job`` metadata, how that job stands here (:class:`JobState`)."""
        self.expire()
        meta = context.invocation_metadata()
        job = next((v for k, v in meta or () if k == JOB_KEY and isinstance(v, str)), None)
        if job is None:
            return common_pb2.Ack(status="alive")
        cn = [v.decode(errors="replace") for v in context.auth_context().get("x509_common_name", [])]
        asker = cn[0] if len(cn) == 1 and cn[0] in self.peers else ""
        state = self.job_state(job, asker, run_token_of(meta), run_token_of(meta, LEAD_KEY))
        return common_pb2.Ack(status=state.encode())

    # -- runs: liveness per job -----------------------------------------------------------------
    def open_run(self, job_id: str, hub: MemoryHub, token: str, proposer: str = "", lead: str = "") -> None:
        """Our run of ``job_id`` opens (a job id run again replaces its ended record);
        ``proposer``: the party whose run of the job this run belongs to ('' for no checks),
        ``lead``: its run token where known (a proposal ``vfl serve`` accepted), so a call of
        another run of it is refused from the first moment."""
        with self._lock:
            self.runs.pop(job_id, None)
            self.runs[job_id] = _Run(token, proposer)
            if lead and proposer and proposer != self.me:
                self.runs[job_id].peers[proposer] = lead
            for k in [k for k in self.gone if k[0] == job_id]:
                del self.gone[k]
            for k in [k for k in self.peer_ended if k[0] == job_id]:
                del self.peer_ended[k]
            self.jobs[job_id] = hub

    def end_run(self, job_id: str, outcome: str, blame: str = "", reason: str = "") -> None:
        """Our run ended: peers that ask are told how (the last :data:`MAX_ENDED` are kept)."""
        with self._lock:
            self.jobs.pop(job_id, None)
            run = self.runs.get(job_id)
            if run is not None and run.ended is None:
                one_line = " ".join(reason.split())
                run.ended = JobState(
                    "ended", outcome=outcome, blame=blame, reason=clip(one_line, MAX_REASON_CHARS)
                )
            ended = [j for j, r in self.runs.items() if r.ended is not None]
            for j in ended[: max(0, len(ended) - MAX_ENDED)]:
                del self.runs[j]
        self.drop_job(job_id)

    def note_run(self, job_id: str, peer: str, token: str) -> str | None:
        """Record ``peer``'s run token in our open run of ``job_id``. A different token than the
        one recorded means the peer started the job again: the run it belonged to is over, so
        our run ends too (its waits wake at once); returns why, else None."""
        if not token:
            return None
        with self._lock:
            run = self.runs.get(job_id)
            if run is None or run.ended is not None:
                return None
            known = run.peers.setdefault(peer, token)
            if known == token:
                return None
            hub = self.jobs.get(job_id)
            first = (job_id, peer) not in self.gone
            why = self.gone.setdefault(
                (job_id, peer),
                f"{peer} started job {job_id} again (a restarted process or a new run), so the run "
                f"{self.me} was part of is over",
            )
        if first and hub is not None:
            hub.mark_dead(peer, why)
        if first and self.events is not None:
            self.events("peer_restarted", why, peer=peer, job=job_id)
        return why

    def lead(self, job_id: str, token: str) -> str:
        """The proposer's run token of our run ``token`` of ``job_id``: ours if we proposed it,
        the proposer's once it has called us, else '' (also when ``token`` is not our current
        run of the job: a thread left over from an older run must not speak for the new one)."""
        with self._lock:
            run = self.runs.get(job_id)
            return "" if run is None or run.token != token else self._lead(run)

    def _lead(self, run: _Run) -> str:
        return run.token if run.proposer == self.me else run.peers.get(run.proposer, "")

    def stale_call(self, job_id: str, sender: str, lead: str) -> Refused | None:
        """The refusal of a call from ``sender`` that carries proposer run ``lead`` and belongs
        to another run of the job than our open one (None: it does not, or we cannot tell): for
        good at the proposer, retryable at a passive. The proposer's own calls are never stale:
        a new token from it is a restart (:meth:`note_run`)."""
        with self._lock:
            run = self.runs.get(job_id)
            if not lead or run is None or run.ended is not None or sender == run.proposer:
                return None
            ours = self._lead(run)
            if not ours or ours == lead:
                return None
            proposer = run.proposer
        job = clip(job_id, 64)
        if proposer == self.me:
            return Refused(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"{sender}'s call {STALE} {job} than {self.me}'s: {self.me} started job {job} again, "
                f"so the run {sender} is part of is over",
            )
        return Refused(
            grpc.StatusCode.UNAVAILABLE,
            f"{sender}'s call {STALE} {job} than {self.me}'s (another run of {proposer}'s); one of "
            f"the two is over: ask {proposer} and retry",
        )

    def peer_token(self, job_id: str, peer: str) -> str:
        """The run token we have seen from ``peer`` in our run of ``job_id`` ('' if none)."""
        with self._lock:
            run = self.runs.get(job_id)
            return "" if run is None else run.peers.get(peer, "")

    def job_state(self, job_id: str, asker: str, token: str, lead: str = "") -> JobState:
        """What a Ping from ``asker`` (run ``token``, of proposer run ``lead``) about ``job_id``
        is told: a run of ours that belongs to another run of the asker reads as ``none`` (and
        ends, see :meth:`note_run`); one of another proposer run as ``stale``."""
        if self.stale_call(job_id, asker, lead) is not None:
            return JobState("stale")
        if self.note_run(job_id, asker, token) is not None:
            return JobState("none")
        with self._lock:
            run = self.runs.get(job_id)
            if run is None or (token and run.peers.get(asker, token) != token):
                return JobState("none")
            if run.ended is not None and lead and self._lead(run) not in ("", lead):
                return JobState("none")  # our run ended, the asker's is another proposer run: not open yet
            return run.ended or JobState("open", run.token)

    # -- checks and filing --------------------------------------------------------------------
    def _deliver(
        self, request: common_pb2.Envelope, cn: list[str], token: str = "", lead: str = ""
    ) -> common_pb2.Ack:
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
        stale = self.stale_call(request.job_id, request.sender, lead)
        if stale is not None:  # its token is not recorded: that is no restart of the sender
            raise stale
        restarted = self.note_run(request.job_id, request.sender, token) is not None
        hub = None if restarted else self.jobs.get(request.job_id)
        proposal = hub is None and self.accept_proposals and request.topic == _PROPOSE_TOPIC
        if hub is None and not proposal:
            self._not_open(request, token, lead)
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
                self.proposals.put_nowait(Proposal(whole, token))
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
            if request.topic == END_TOPIC:
                self._peer_ends(hub, request.sender, payload)
            else:
                hub.put(request.sender, self.me, request.topic, data)
        if self.audit is not None:
            self.audit(whole)
        return common_pb2.Ack(status="ok")

    def _peer_ends(self, hub: MemoryHub, sender: str, payload: bytes) -> None:
        """``sender`` says its side of the job ended: our waits on it wake at once."""
        ack = _parse_ack(payload)
        state = parse_job_state(ack.status, hub.parties)
        if state.kind != "ended" or ack is _UNDECODABLE_ACK:
            raise Refused(grpc.StatusCode.INVALID_ARGUMENT, "a malformed job end notice")
        with self._lock:
            self.peer_ended.setdefault((hub.job_id, sender), state)
        hub.mark_dead(sender, state.reason)

    def _not_open(self, request: common_pb2.Envelope, token: str, lead: str = "") -> None:
        """Refuse a delivery for a job we have not open. Before the job opens here (a start race,
        or ``vfl serve`` busy with another job) it is UNAVAILABLE, which the sender retries within
        its connect timeout; a job that ended here, or a ``vfl run`` process that runs another
        job, is FAILED_PRECONDITION, which it does not."""
        job = clip(request.job_id, 64)
        state = self.job_state(request.job_id, request.sender, token, lead)
        if state.kind == "ended":
            raise Refused(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"{self.me} ended job {job} ({state.outcome}): {state.reason}",
            )
        open_jobs = ", ".join(repr(j) for j in self.jobs)
        if self.accept_proposals or not self.jobs:
            busy = f" (it runs {open_jobs})" if open_jobs else ""
            raise Refused(grpc.StatusCode.UNAVAILABLE, f"{self.me} {NOT_OPEN} {job!r} yet{busy}")
        raise Refused(grpc.StatusCode.FAILED_PRECONDITION, f"{self.me} runs job {open_jobs}, not {job!r}")

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
