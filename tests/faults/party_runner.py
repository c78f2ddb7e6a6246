"""One party of a job in its own process, as ``vfl run JOB --as NAME`` runs it (``run_as``: gRPC
with mutual TLS, checkpoints under ``OUT/checkpoints``, outputs at the commit), with the fast
liveness settings of the tests and an audit of every message received (the parent test reads
it to SIGKILL a party at a chosen protocol stage):

    python -m tests.faults.party_runner JOB.toml PARTY.toml AUDIT.jsonl [--resume]

Exit status: 0, or the vfl error's own exit code (its message on stderr).
"""

from __future__ import annotations

import sys
from pathlib import Path

from vfl.core.errors import VflError
from vfl.runtime.job.jobfile import load_job, load_party_config
from vfl.runtime.modes.party import run_as
from vfl.transport.grpc import GrpcSettings

__all__ = ["FAST", "main"]

FAST = GrpcSettings(connect_timeout=10.0, call_timeout=10.0, ping_every=0.3, dead_after=1.5)


def main(argv: list[str]) -> int:
    job_path, cfg_path, audit, *rest = argv
    cfg = load_party_config(cfg_path)
    try:
        run_as(
            load_job(job_path),
            cfg,
            settings=FAST,
            audit_wire=Path(audit),
            checkpoint_dir=cfg.out_dir / "checkpoints",
            resume="--resume" in rest,
        )
    except VflError as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
