"""``vfl run JOB --as NAME``: one party's side of a job in its own process, over gRPC + mTLS.

The party reads only its own config and data, talks only to the peers its config names, and
writes only its own outputs (``OUT/NAME/``), atomically and only once the job succeeded.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from vfl.core.errors import ConfigError
from vfl.data.readers import read_party_table
from vfl.data.table import PartyTable
from vfl.executor.choose import executor_scope, using_executor
from vfl.runtime.job.jobfile import JobFile, PartyConfig
from vfl.runtime.job.run import PartyOutcome, run_party_job
from vfl.runtime.job.spec import JobSpec
from vfl.runtime.modes.outputs import write_party_outputs
from vfl.transport.grpc import GrpcChannel, GrpcSettings
from vfl.transport.tls import check_own_certificate, party_files
from vfl.wire.v1 import common_pb2

__all__ = ["party_out_dir", "run_as", "waiting_line"]


def party_out_dir(cfg: PartyConfig, job: JobFile) -> Path:
    """Outputs go to ``OUT/NAME/`` (``out`` in the party config); result.json names the job."""
    return cfg.out_dir


def _check(job: JobFile, cfg: PartyConfig) -> None:
    spec = job.spec
    if cfg.name not in spec.order:
        raise ConfigError(
            f"{cfg.name} is not a party of job {spec.job_id} ({', '.join(spec.order)})",
            "run with --as one of the job's parties",
        )
    missing = [p for p in spec.order if p != cfg.name and p not in cfg.peers]
    if missing:
        raise ConfigError(f"{cfg.source}: no address for {', '.join(missing)}", "add them under [peers]")
    is_active = cfg.name == spec.active
    if spec.model != "none" and is_active and not cfg.label_column:
        raise ConfigError(
            f"{cfg.name} is the job's label holder but its config names no label column",
            "set label_column under [data]",
        )
    if not is_active and cfg.label_column:
        raise ConfigError(
            f"{cfg.name} is not the label holder but its config names a label column",
            "only the active party's config has label_column",
        )


def run_with_peers(
    cfg: PartyConfig,
    spec: JobSpec,
    table: PartyTable,
    *,
    settings: GrpcSettings | None = None,
    audit_wire: Path | None = None,
    on_wait: Callable[[str], None] | None = None,
    **job_options: Any,
) -> PartyOutcome:
    """Run our side of ``spec`` with the peers our config names (they run ``vfl run`` or
    ``vfl serve``), over gRPC with mutual TLS. First every peer must answer (the connect
    timeout); ``on_wait`` is told at once, then every few seconds, whom we wait for."""
    missing = [p for p in spec.order if p != cfg.name and p not in cfg.peers]
    if missing:
        raise ConfigError(f"{cfg.source}: no address for {', '.join(missing)}", "add them under [peers]")
    peers = {p: cfg.peers[p] for p in spec.order if p != cfg.name}
    tls = party_files(cfg.cert_dir, cfg.name)
    check_own_certificate(cfg.name, tls)  # our own mistake is ours to report, before a peer sees it
    # the first party proposes the job (run_party_job): our run belongs to its run
    channel = GrpcChannel(
        cfg.name, cfg.listen, peers, spec.job_id, tls, settings=settings, proposer=spec.order[0]
    )
    # line-buffered: each audit line is on disk as soon as the envelope arrived
    audit_file = open(audit_wire, "a", encoding="utf-8", buffering=1) if audit_wire else None
    if audit_file is not None:
        lock = threading.Lock()

        def audit(env: common_pb2.Envelope) -> None:
            with lock:
                audit_file.write(_audit_line(env))

        channel.server.router.audit = audit
    try:
        channel.wait_for_peers(
            None if on_wait is None else lambda w, left: on_wait(waiting_line(cfg.name, w, left))
        )
        return run_party_job(spec, table, channel, **job_options)
    except BaseException as exc:
        channel.fail(exc)  # peers that ask are told why our side ended
        raise
    finally:
        channel.close()
        if audit_file is not None:
            audit_file.close()


def waiting_line(me: str, waiting: dict[str, str], seconds_left: float) -> str:
    """``insurer: waiting for hospital (127.0.0.1:5001), pharma (...) (28 s left)``."""
    names = ", ".join(f"{p} ({a})" for p, a in waiting.items())
    return f"{me}: waiting for {names} ({seconds_left:.0f} s left)"


def _audit_line(env: common_pb2.Envelope) -> str:
    """What crossed the wire to us: route, topic, message type and size (never the payload)."""
    rec = {
        "sender": env.sender,
        "receiver": env.receiver,
        "topic": env.topic,
        "type": env.type,
        "bytes": len(env.payload),
        "job_id": env.job_id,
    }
    return json.dumps(rec) + "\n"


def read_own_table(cfg: PartyConfig, ids_only: bool = False) -> PartyTable:
    """This party's table; ``ids_only`` for alignment-only jobs (the features are not read). A
    folder of Parquet shards is read on this process's executor (``[compute]``: its threads, or
    the party's Ray workers)."""
    with executor_scope(None) as executor:
        return read_party_table(
            cfg.data,
            name=cfg.name,
            id_column=cfg.id_column,
            label_column=cfg.label_column,
            offset_column=cfg.offset_column,
            nan_policy=cfg.nan_policy,  # type: ignore[arg-type]
            id_rule=cfg.id_rule,
            ids_only=ids_only,
            map_shards=executor.map,
        )


def run_as(
    job: JobFile,
    cfg: PartyConfig,
    settings: GrpcSettings | None = None,
    device: str | None = None,
    **job_options: Any,
) -> PartyOutcome:
    """``vfl run``: our side of a job file; outputs are written only once the job succeeded.
    Computes on ``device`` if given, else as :meth:`JobFile.spec_for` says."""
    _check(job, cfg)
    spec = job.spec_for(cfg) if device is None else replace(job.spec, device=device)
    out_dir = party_out_dir(cfg, job)
    with using_executor(cfg.compute):  # [compute]: this party's own cluster, never sent
        table = read_own_table(cfg, ids_only=not spec.trains)
        return run_with_peers(
            cfg, spec, table, settings=settings, keep=lambda o: write_party_outputs(out_dir, o), **job_options
        )
