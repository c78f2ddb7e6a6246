"""``vfl serve --config parties/NAME.toml``: a party's long-running process.

It validates its own data once, listens (mTLS), and waits for job proposals. A proposal is
accepted only if the party's policy allows it (who may propose, which models), the proposer is
the job's label holder, and every party of the job is a configured peer. It then runs its side of
the job with its own data, writes its own outputs to ``OUT/JOB_ID/NAME/``, and waits again.

The boundary (issue 18): a proposal is parsed, bounded and checked inside it, and each job runs
inside it; any failure (a vfl error or any other exception) becomes one line of the structured
log naming the peer and what it sent, and the server goes on serving.

Liveness per job: a queued proposal whose proposer's run has ended (it crashed, restarted or gave
up) is dropped, logged, before anything runs; during a job, the channel asks every peer how the
job stands there, so a peer that restarts or abandons it ends our side within seconds.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from google.protobuf.message import DecodeError

from vfl.core.errors import VflError, WireError
from vfl.data.table import PartyTable
from vfl.executor.choose import using_executor
from vfl.runtime.job.handshake import answer, spec_of
from vfl.runtime.job.jobfile import PartyConfig
from vfl.runtime.job.run import PartyOutcome, run_party_job
from vfl.runtime.job.spec import JobSpec
from vfl.runtime.modes.outputs import write_party_outputs
from vfl.runtime.modes.party import read_own_table
from vfl.runtime.store.modelfile import load_model_file
from vfl.transport.events import EventLog
from vfl.transport.grpc import GrpcChannel, GrpcSettings, MailboxServer, Proposal
from vfl.transport.tls import TlsFiles, check_own_certificate, party_files
from vfl.wire.v1 import common_pb2, job_pb2

__all__ = ["model_path", "policy_check", "serve"]


def policy_check(cfg: PartyConfig, proposer: str) -> Callable[[JobSpec], str | None]:
    def check(spec: JobSpec) -> str | None:
        if proposer not in cfg.accept_from:
            return f"{cfg.name} accepts jobs only from {', '.join(cfg.accept_from) or 'nobody'}"
        if spec.active != proposer:
            return f"only the job's label holder ({spec.active}) may propose it"
        if cfg.name not in spec.order:
            return f"{cfg.name} is not a party of this job"
        unknown = [p for p in spec.order if p != cfg.name and p not in cfg.peers]
        if unknown:
            return f"{cfg.name} has no address for {', '.join(unknown)}"
        if spec.model not in cfg.allowed_models:
            return f"model {spec.model!r} is not allowed here (allowed: {', '.join(cfg.allowed_models)})"
        if spec.task == "predict" and not model_path(cfg, spec.model_job_id).is_file():
            return f"{cfg.name} holds no model part of training job {spec.model_job_id!r}"
        return None

    return check


def model_path(cfg: PartyConfig, job_id: str) -> Path:
    """Where a serving party keeps its part of a model it helped train."""
    return cfg.out_dir / job_id / cfg.name / "model.json"


def serve(
    cfg: PartyConfig,
    *,
    max_jobs: int | None = None,
    idle_timeout: float | None = None,
    settings: GrpcSettings | None = None,
    log: Callable[[str], None] = print,
) -> list[PartyOutcome]:
    """Serve jobs until ``max_jobs`` ran or nothing arrived for ``idle_timeout`` seconds.

    ``log`` receives the structured server log, one JSON object per line (see EventLog)."""
    table = read_own_table(cfg)
    tls = party_files(cfg.cert_dir, cfg.name)
    check_own_certificate(cfg.name, tls)
    events = EventLog(cfg.name, log)
    server = MailboxServer(cfg.name, cfg.listen, cfg.peers, tls, settings or GrpcSettings(), events)
    events(
        "serving",
        f"{cfg.name}: serving on {cfg.listen} ({table.n_rows:,} rows, {table.n_features} features); "
        f"accepting jobs from {', '.join(cfg.accept_from)}; heavy work on {cfg.compute.describe()}",
        listen=cfg.listen,
        executor=cfg.compute.executor,
    )
    done: list[PartyOutcome] = []
    # [compute]: every job this server runs does its heavy work there (a local Ray, when asked
    # for without an address, is started once for the server's life), never sent to peers
    try:
        with using_executor(cfg.compute):
            while max_jobs is None or len(done) < max_jobs:
                proposal = server.next_proposal(idle_timeout)
                if proposal is None:
                    events("idle_stop", f"{cfg.name}: no job for {idle_timeout} s, stopping")
                    break
                outcome = _serve_one(cfg, server, tls, table, proposal, events)
                if outcome is not None:
                    done.append(outcome)
    finally:
        server.stop()
    return done


def _serve_one(
    cfg: PartyConfig,
    server: MailboxServer,
    tls: TlsFiles,
    table: PartyTable,
    proposal: Proposal,
    events: EventLog,
) -> PartyOutcome | None:
    """One proposal, start to end, inside the boundary: whatever the peer sent and whatever the
    job raises, it ends as a logged refusal or a logged failed job, and the server serves on."""
    env = proposal.envelope
    peer = env.sender
    try:
        stale = server.stale(proposal)
    except Exception as exc:
        stale = _describe(exc)
    if stale is not None:
        events(
            "proposal_dropped",
            f"{cfg.name}: dropped {peer}'s queued proposal of job {env.job_id}: {stale}",
            peer=peer,
            job=env.job_id,
        )
        return None
    try:
        spec, peers = _read_proposal(cfg, env)
    except Exception as exc:
        events(
            "proposal_refused",
            f"{cfg.name}: refused a proposal from {peer}: {_describe(exc)}",
            peer=peer,
            job=env.job_id,
            bytes=len(env.payload),
            error=type(exc).__name__,
        )
        return None
    try:
        channel = GrpcChannel(
            cfg.name,
            cfg.listen,
            peers,
            spec.job_id,
            tls,
            server=server,
            settings=server.settings,
            proposer=peer,
            lead=proposal.token,
        )
    except Exception as exc:
        events(
            "proposal_refused",
            f"{cfg.name}: cannot open job {spec.job_id}: {_describe(exc)}",
            peer=peer,
            job=spec.job_id,
            error=type(exc).__name__,
        )
        return None
    channel.inject(proposal)
    stage = "handshake"
    try:
        # the proposal never carries a device: each serving party computes on its own
        spec = replace(answer(channel, peer, policy_check(cfg, peer)), device=cfg.device)
        stage = "run"
        events(
            "job_started",
            f"{cfg.name}: running job {spec.job_id} ({spec.model}, {spec.he}) proposed by {peer}",
            peer=peer,
            job=spec.job_id,
            model=spec.model,
            he=spec.he,
            task=spec.task,
        )
        part = load_model_file(model_path(cfg, spec.model_job_id)) if spec.task == "predict" else None
        outcome = run_party_job(spec, table, channel, agreed=True, model_file=part)
        write_party_outputs(cfg.out_dir / spec.job_id, outcome)
    except Exception as exc:
        channel.fail(exc)
        refused = stage == "handshake"
        events(
            "job_refused" if refused else "job_failed",
            f"{cfg.name}: job {spec.job_id} from {peer} {'refused' if refused else 'failed'}: "
            f"{_describe(exc)}",
            peer=peer,
            job=spec.job_id,
            error=type(exc).__name__,
        )
        return None
    finally:
        channel.close()
    events(
        "job_done",
        f"{cfg.name}: job {spec.job_id} done; outputs in {cfg.out_dir / spec.job_id / cfg.name}",
        peer=peer,
        job=spec.job_id,
    )
    return outcome


def _read_proposal(cfg: PartyConfig, env: common_pb2.Envelope) -> tuple[JobSpec, dict[str, str]]:
    """The proposal's spec (bounded and hash-checked) and the addresses of the job's peers."""
    proposal = job_pb2.JobProposal()
    try:
        proposal.ParseFromString(env.payload)
    except DecodeError as exc:
        raise WireError(f"{env.sender} sent an undecodable job proposal ({exc})") from None
    spec = spec_of(proposal)
    if spec.job_id != env.job_id:
        raise WireError(f"the proposal is for job {spec.job_id!r} but was sent as job {env.job_id!r}")
    peers = {p: cfg.peers[p] for p in spec.order if p != cfg.name and p in cfg.peers}
    if env.sender not in peers:
        raise WireError(f"{env.sender} proposed a job it is not a party of (or that names no peer of ours)")
    return spec, peers


def _describe(exc: BaseException) -> str:
    """A vfl error's own message; anything else with its type and where it was raised (a bug to
    report, which must not stop the server)."""
    if isinstance(exc, VflError):
        return str(exc)
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    return f"unexpected {type(exc).__name__}: {exc}{where}"
