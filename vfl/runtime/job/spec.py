"""What every party of a job agrees on, and the one place that builds it (label holder first)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["JobSpec"]


@dataclass(frozen=True)
class JobSpec:
    """What every party of a job agrees on (the job file)."""

    job_id: str
    order: tuple[str, ...]  # the label holder first: PSI comparer and HE key holder
    active: str | None
    model: str = "none"
    he: str = "ckks"
    test_size: float = 0.2
    seed: int = 42
    model_params: dict[str, Any] = field(default_factory=dict)
    task: str = "train"  # "train" | "predict"
    model_job_id: str = ""  # predict: the training job whose parts score the rows
    device: str = "cpu"  # this party's compute device: party-local, not part of the handshake
