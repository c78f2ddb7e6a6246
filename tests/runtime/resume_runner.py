"""One party's side of a job in its own process, with checkpoints, for the SIGKILL resume test:

    python -m tests.runtime.resume_runner JOB.toml PARTY.toml CHECKPOINT_DIR|- [--resume]

It runs ``run_as`` (PSI, training, scoring, outputs under the party config's ``out``) and then
writes ``OUT/NAME/weights.json`` with what identifies the trained part, atomically. ``-``: no checkpoints.
"""

from __future__ import annotations

import sys
from pathlib import Path

from vfl.runtime.job.jobfile import load_job, load_party_config
from vfl.runtime.modes.party import run_as
from vfl.runtime.store.atomic import write_json_atomic

__all__ = ["main"]


def main(argv: list[str]) -> int:
    job_path, cfg_path, ckpt, *rest = argv
    cfg = load_party_config(cfg_path)
    checkpoint_dir = None if ckpt == "-" else Path(ckpt)
    outcome = run_as(load_job(job_path), cfg, checkpoint_dir=checkpoint_dir, resume="--resume" in rest)
    model, stats = outcome.model, outcome.model.fit_stats
    if hasattr(model, "weights"):  # LR
        part = {"weights": [float(v) for v in model.weights], "intercept": model.intercept}
    else:  # SecureBoost: tree structure and leaf values (split ids are random), split tables
        trees = [[[n.owner, n.feature, n.left, n.right, n.value] for n in t.nodes] for t in model.trees]
        part = {
            "trees": trees,
            "splits": sorted([s.feature, s.threshold, s.default_left] for s in model.splits.values()),
        }
    resumed = stats.get("resumed_from_epoch", stats.get("resumed_from_tree"))
    write_json_atomic(
        cfg.out_dir / cfg.name / "weights.json", {**part, "metrics": outcome.metrics, "resumed_from": resumed}
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
