"""The job handshake: the label holder proposes the job, every other party checks it against its
own job file (``vfl run``) or its policy (``vfl serve``) and answers, before any data is touched.

It catches the classic deployment mistake (two parties with different job files) with a clear
message instead of a protocol error halfway through. It is also the job's start barrier: once
every answer is in, the label holder tells every party to start (or that the job is called off),
so no party begins PSI before all have opened the job, and a party that accepted a job another
refused ends at once instead of waiting for messages that never come.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

from vfl.core.errors import ConfigError, ProtocolError
from vfl.runtime.job.spec import JobSpec
from vfl.runtime.models.registry import JOB_KINDS
from vfl.transport.channel import Channel
from vfl.transport.events import clip
from vfl.wire.proposal import check_proposal
from vfl.wire.v1 import common_pb2, job_pb2

__all__ = ["answer", "proposal_of", "propose", "spec_of"]

_TOPIC_PROPOSE = "job/propose"
_TOPIC_ANSWER = "job/answer"
_TOPIC_START = "job/start"


def _canonical(spec: JobSpec) -> str:
    return json.dumps(spec.agreed_fields(), sort_keys=True)


def proposal_of(spec: JobSpec) -> job_pb2.JobProposal:
    return job_pb2.JobProposal(
        job_id=spec.job_id,
        parties=list(spec.order),
        active=spec.active or "",
        model=spec.model,
        he=spec.he,
        test_size=spec.test_size,
        seed=spec.seed,
        params_json=json.dumps(spec.model_params, sort_keys=True),
        task=spec.task,
        model_job_id=spec.model_job_id,
        spec_sha256=hashlib.sha256(_canonical(spec).encode()).hexdigest(),
    )


def spec_of(msg: job_pb2.JobProposal) -> JobSpec:
    """Rebuild (and verify) the proposer's spec; params must be a JSON object of scalars."""
    check_proposal(msg)  # every field bounded first: the proposer may be hostile
    try:
        params = json.loads(msg.params_json or "{}")
    except json.JSONDecodeError as exc:
        raise ProtocolError(f"job proposal parameters are not JSON: {exc}") from exc
    if not isinstance(params, dict) or any(isinstance(v, dict | list) for v in params.values()):
        raise ProtocolError("job proposal parameters must be a flat JSON object")
    spec = JobSpec(
        job_id=msg.job_id,
        order=tuple(msg.parties),
        active=msg.active or None,
        model=msg.model,
        he=msg.he,
        test_size=msg.test_size,
        seed=int(msg.seed),
        model_params=params,
        task=msg.task or "train",
        model_job_id=msg.model_job_id,
    )
    if spec.task not in JOB_KINDS:
        raise ProtocolError(f"unknown job task {spec.task!r}")
    if hashlib.sha256(_canonical(spec).encode()).hexdigest() != msg.spec_sha256:
        raise ProtocolError("job proposal does not match its own hash")
    return spec


def propose(channel: Channel, spec: JobSpec) -> None:
    """Label holder: send the proposal to every peer and require every answer to be yes."""
    msg = proposal_of(spec)
    for peer in channel.peers:
        channel.send(peer, _TOPIC_PROPOSE, msg)
    refusals, accepted = [], []
    for peer in channel.peers:
        ans = channel.recv(peer, _TOPIC_ANSWER, job_pb2.JobAnswer)
        if ans.accepted:
            accepted.append(peer)
        else:
            refusals.append(f"{peer}: {clip(ans.reason, 300)}")
    go = "start" if not refusals else "abort " + "; ".join(refusals)
    for peer in accepted:
        channel.send(peer, _TOPIC_START, common_pb2.Ack(status=go))
    if refusals:
        raise ConfigError(
            "the job was refused: " + "; ".join(refusals),
            "give every party the same job file, or change the refusing party's policy",
        )


def answer(channel: Channel, proposer: str, check: Callable[[JobSpec], str | None]) -> JobSpec:
    """Passive: receive the proposal, run ``check`` (None = accept, else the reason), answer."""
    msg = channel.recv(proposer, _TOPIC_PROPOSE, job_pb2.JobProposal)
    spec = spec_of(msg)
    reason = check(spec)
    channel.send(
        proposer,
        _TOPIC_ANSWER,
        job_pb2.JobAnswer(accepted=reason is None, reason=reason or "", spec_sha256=msg.spec_sha256),
    )
    if reason is not None:
        raise ConfigError(f"we refused {proposer}'s job: {reason}", "compare the job files of both parties")
    go = channel.recv(proposer, _TOPIC_START, common_pb2.Ack).status
    if go != "start":
        raise ConfigError(
            f"{proposer} called the job off: {clip(go.removeprefix('abort '), 400)}",
            "the refusing party's log says why; fix its job file or policy and re-run",
        )
    return spec


def same_job(mine: JobSpec) -> Callable[[JobSpec], str | None]:
    """The ``vfl run`` check: the proposal must equal our own job file."""

    def check(theirs: JobSpec) -> str | None:
        if _canonical(theirs) == _canonical(mine):
            return None
        a, b = json.loads(_canonical(mine)), json.loads(_canonical(theirs))
        diff = [k for k in a if a[k] != b[k]]
        return f"job files differ in {', '.join(diff)}"

    return check
