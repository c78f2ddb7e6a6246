"""What every party of a job agrees on, and the one place that builds it (label holder first)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from typing import Any

from vfl.runtime.models.registry import JOB_KINDS, NO_MODEL, default_he

__all__ = ["JobSpec"]


@dataclass(frozen=True)
class JobSpec:
    """What every party of a job agrees on (the job file)."""

    job_id: str
    order: tuple[str, ...]  # the label holder first: PSI comparer and HE key holder
    active: str | None
    model: str = NO_MODEL
    he: str = "ckks"
    test_size: float = 0.2
    seed: int = 42
    model_params: dict[str, Any] = field(default_factory=dict)
    task: str = "train"  # "train" | "predict"
    model_job_id: str = ""  # predict: the training job whose parts score the rows
    device: str = "cpu"  # this party's compute device: party-local, not part of the handshake

    @classmethod
    def create(
        cls,
        *,
        job_id: str,
        parties: Iterable[str],
        active: str | None,
        model: str = NO_MODEL,
        he: str | None = None,
        **agreed: Any,
    ) -> JobSpec:
        """The one way a job is built: the label holder first (it is the PSI comparer and the HE
        key holder), and the model's default HE scheme where none is named."""
        names = list(parties)
        order = (active, *[p for p in names if p != active]) if active else tuple(names)
        return cls(
            job_id=job_id, order=order, active=active, model=model, he=he or default_he(model), **agreed
        )

    def agreed_fields(self) -> dict[str, Any]:
        """Every field the parties must agree on, by its job-file name: all but the party-local
        ``device``. The handshake hashes and compares exactly these."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "device"}
        out["parties"] = list(out.pop("order"))
        out["params"] = out.pop("model_params")
        return out

    @property
    def trains(self) -> bool:
        return JOB_KINDS[self.task].trains and self.model != NO_MODEL
