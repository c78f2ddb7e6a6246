"""``vfl serve --config parties/NAME.toml``: a party's long-running process.

It validates its own data once, listens (mTLS), and waits for job proposals. A proposal is
accepted only if the party's policy allows it (who may propose, which models), the proposer is
the job's label holder, and every party of the job is a configured peer. It then runs its side of
the job with its own data, writes its own outputs to ``OUT/JOB_ID/NAME/``, and waits again. A job
that fails is logged and does not stop the server.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from vfl.core.errors import VflError
from vfl.runtime.job.handshake import answer
from vfl.runtime.job.run import PartyOutcome, run_party_job
from vfl.runtime.job.spec import JobSpec
from vfl.runtime.job.jobfile import PartyConfig
from vfl.runtime.store.modelfile import load_model_file
from vfl.runtime.modes.outputs import write_party_outputs
from vfl.runtime.modes.party import read_own_table
from vfl.transport.grpc import GrpcChannel, GrpcSettings, MailboxServer
from vfl.transport.tls import party_files
from vfl.wire.v1 import job_pb2

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
    """Serve jobs until ``max_jobs`` ran or nothing arrived for ``idle_timeout`` seconds."""
    table = read_own_table(cfg)
    tls = party_files(cfg.cert_dir, cfg.name)
    server = MailboxServer(cfg.name, cfg.listen, cfg.peers, tls, settings or GrpcSettings())
    log(
        f"{cfg.name}: serving on {cfg.listen} ({table.n_rows:,} rows, {table.n_features} features); "
        f"accepting jobs from {', '.join(cfg.accept_from)}"
    )
    done: list[PartyOutcome] = []
    try:
        while max_jobs is None or len(done) < max_jobs:
            env = server.next_proposal(idle_timeout)
            if env is None:
                log(f"{cfg.name}: no job for {idle_timeout} s, stopping")
                break
            proposal = job_pb2.JobProposal()
            proposal.ParseFromString(env.payload)
            peers = {p: cfg.peers[p] for p in proposal.parties if p != cfg.name and p in cfg.peers}
            if env.sender not in peers:
                log(f"{cfg.name}: ignored a proposal from {env.sender}, who is not in its own job")
                continue
            channel = GrpcChannel(
                cfg.name, cfg.listen, peers, proposal.job_id, tls, server=server, settings=server.settings
            )
            channel.inject(env)
            try:
                # the proposal never carries a device: each serving party computes on its own
                spec = replace(answer(channel, env.sender, policy_check(cfg, env.sender)), device=cfg.device)
                log(
                    f"{cfg.name}: running job {spec.job_id} ({spec.model}, {spec.he}) "
                    f"proposed by {env.sender}"
                )
                part = load_model_file(model_path(cfg, spec.model_job_id)) if spec.task == "predict" else None
                outcome = run_party_job(spec, table, channel, agreed=True, model_file=part)
                write_party_outputs(cfg.out_dir / spec.job_id, outcome)
                done.append(outcome)
                log(f"{cfg.name}: job {spec.job_id} done; outputs in {cfg.out_dir / spec.job_id / cfg.name}")
            except VflError as exc:
                log(f"{cfg.name}: job {proposal.job_id} failed: {exc}")
            finally:
                channel.close()
    finally:
        server.stop()
    return done
