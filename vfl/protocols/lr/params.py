"""Training parameters every party of an LR job agrees on, and what one party's fit returns."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

import numpy as np

from vfl.compute.backend import check_device
from vfl.core.errors import ConfigError
from vfl.protocols.lr.local import Standardiser

__all__ = ["LRParams", "PartFit", "part_fingerprint"]

HE_NAMES = ("ckks", "paillier", "zpaillier", "ou")


@dataclass
class LRParams:
    """The active's values of the schedule fields (epochs, batch_size, validation, seed, DP) are
    authoritative and sent to passives; optimiser fields and ``device`` are each party's own
    (``device`` is never sent: it picks where this party's plaintext algebra runs, see
    :func:`vfl.compute.get_backend`)."""

    epochs: int = 4  # defaults tuned on default_credit (30 000 rows); small data wants batch ~32
    batch_size: int = 2048
    learning_rate: float = 0.1
    optimizer: str = "adam"
    l2: float = 0.0
    lr_decay: float = 1.0  # inverse-time decay per epoch: lr / (1 + epoch) ** lr_decay
    class_weight: str | dict[int, float] | None = None  # None, "balanced" or {0: w0, 1: w1}
    early_stopping: bool = True
    validation_fraction: float = 0.1
    patience: int = 2
    tol: float = 1e-4
    seed: int = 0
    he: str = "ckks"
    dp_epsilon: float | None = None
    dp_delta: float = 1e-5
    clip_norm: float = 3.0  # DP: L2 bound of one row's whole (all parties') standardised features
    grad_mask_bound: float = 2.0**30  # passives' one-time gradient masks, uniform in +-bound
    ckks_flood_sigma: float = 1e-5  # noise the active adds to CKKS decryptions it returns
    device: str = "cpu"  # cpu | torch | cuda | cupy | auto: this party's compute, not the wire

    def __post_init__(self) -> None:
        checks = [
            (self.epochs >= 1, "epochs must be >= 1"),
            (self.batch_size >= 1, "batch_size must be >= 1"),
            (self.learning_rate > 0, "learning_rate must be > 0"),
            (self.optimizer in ("adam", "sgd"), "optimizer must be 'adam' or 'sgd'"),
            (self.l2 >= 0, "l2 must be >= 0"),
            (0 <= self.validation_fraction < 0.5, "validation_fraction must be in [0, 0.5)"),
            (self.he in HE_NAMES, f"he must be one of {', '.join(HE_NAMES)}"),
            (self.clip_norm > 0, "clip_norm must be > 0"),
            (self.grad_mask_bound >= 1, "grad_mask_bound must be >= 1"),
            (self.ckks_flood_sigma >= 0, "ckks_flood_sigma must be >= 0"),
            (self.patience >= 1, "patience must be >= 1"),
        ]
        for ok, what in checks:
            if not ok:
                raise ConfigError(f"invalid LR parameters: {what}", "fix the job file's [lr] table")
        check_device(self.device, "LR parameter device")
        if self.dp_epsilon is not None and not (self.dp_epsilon > 0 and math.isfinite(self.dp_epsilon)):
            raise ConfigError(f"dp_epsilon={self.dp_epsilon} is invalid", "use e.g. 8, or leave it unset")
        cw = self.class_weight
        if not (
            cw is None
            or cw == "balanced"
            or (isinstance(cw, dict) and set(cw) <= {0, 1} and all(v > 0 for v in cw.values()))
        ):
            raise ConfigError(f"class_weight={cw!r} is invalid", "use None, 'balanced' or {0: w0, 1: w1}")


@dataclass
class PartFit:
    """One party's result: its own weights only, plus how the fit went."""

    weights: np.ndarray
    intercept: float | None
    standardiser: Standardiser
    epochs_run: int
    loss_history: list[float] = field(default_factory=list)
    val_loss_history: list[float] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    bytes_sent: int = 0
    dp_epsilon: float | None = None
    dp_delta: float | None = None
    noise_multiplier: float | None = None
    parts: dict[str, str] = field(default_factory=dict)
    resumed_from: int = 0  # epochs restored from a checkpoint (0: trained from scratch)

    @property
    def fingerprint(self) -> str:
        return part_fingerprint(self.weights, self.intercept, self.standardiser)


def part_fingerprint(weights: np.ndarray, intercept: float | None, std: Standardiser) -> str:
    """SHA-256 over a party's part, so scoring refuses parts from different trainings."""
    h = hashlib.sha256(b"vfl/lr/part/v1")
    for a in (weights, std.mean, std.scale, np.array([np.nan if intercept is None else intercept])):
        h.update(np.ascontiguousarray(a, dtype="<f8").tobytes())
    return h.hexdigest()
