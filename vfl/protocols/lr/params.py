"""Training parameters every party of an LR job agrees on, and what one party's fit returns."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

import numpy as np

from vfl.compute.backend import check_device
from vfl.core.errors import ConfigError
from vfl.protocols.lr.local import Standardiser

__all__ = ["SOLVERS", "LRParams", "PartFit", "part_fingerprint"]

HE_NAMES = ("ckks", "paillier", "zpaillier", "ou")


SOLVERS = ("lbfgs", "adam", "sgd")
#: fields that only the mini-batch solvers use: setting one (e.g. ``epochs = 3`` in an old job
#: file) without ``solver`` selects the mini-batch path, as it did before L-BFGS was the default
MINIBATCH_FIELDS = ("epochs", "batch_size", "learning_rate", "optimizer", "dp_epsilon")
#: the mini-batch defaults (tuned on default_credit, 30 000 rows; small data wants batch ~32)
MINIBATCH_EPOCHS, MINIBATCH_BATCH, MINIBATCH_RATE = 4, 2048, 0.1
#: default convergence tolerance per solver: L-BFGS stops when the full training objective
#: changes by less than this (relative) in one iteration; Adam/SGD stop early when the
#: validation loss has not improved by this much for ``patience`` epochs
TOL_DEFAULTS = {"lbfgs": 3e-5, "adam": 1e-4, "sgd": 1e-4}


@dataclass
class LRParams:
    """Parameters of one LR job.

    ``solver``: ``"lbfgs"`` (full-batch L-BFGS until converged: the default) or the mini-batch
    ``"adam"`` / ``"sgd"`` (epochs, batches, optional DP). Left unset it is ``"lbfgs"``, unless a
    mini-batch field (``epochs``, ``batch_size``, ``learning_rate``, ``optimizer``,
    ``dp_epsilon``) is set: then ``optimizer`` (``"adam"`` by default). Read the resolved values
    from :attr:`method`, :attr:`n_epochs`, ... rather than the raw fields.

    ``l2`` is the penalty on the mean training loss; unset it is ``1 / (C n_train)`` with C = 1,
    i.e. scikit-learn's default ``LogisticRegression(C=1.0)`` on standardised features (it
    minimises ``0.5 ||w||^2 + C sum_i loss_i``; the intercept is not penalised).

    The active's values of the schedule and of the L-BFGS fields are authoritative and sent to
    passives; the mini-batch optimiser fields and ``device`` are each party's own (``device`` is
    never sent: it picks where this party's plaintext algebra runs, see
    :func:`vfl.compute.get_backend`)."""

    solver: str | None = None
    max_iter: int = 100  # L-BFGS: iterations (each one HE gradient round over all rows)
    memory: int = 10  # L-BFGS: (step, gradient change) pairs kept, as scipy's maxcor
    epochs: int | None = None  # mini-batch: 4
    batch_size: int | None = None  # mini-batch: 2048
    learning_rate: float | None = None  # mini-batch: 0.1
    optimizer: str | None = None  # mini-batch: "adam" or "sgd"
    l2: float | None = None  # None: scikit-learn's C=1.0, see above
    lr_decay: float = 1.0  # inverse-time decay per epoch: lr / (1 + epoch) ** lr_decay
    class_weight: str | dict[int, float] | None = None  # None, "balanced" or {0: w0, 1: w1}
    early_stopping: bool = True  # mini-batch only (L-BFGS stops on convergence)
    validation_fraction: float = 0.1  # mini-batch only: L-BFGS trains on every row
    patience: int = 2
    tol: float | None = None  # None: TOL_DEFAULTS[solver]
    seed: int = 0
    he: str = "ckks"
    dp_epsilon: float | None = None  # mini-batch only
    dp_delta: float = 1e-5
    clip_norm: float = 3.0  # DP: L2 bound of one row's whole (all parties') standardised features
    grad_mask_bound: float = 2.0**30  # passives' one-time gradient masks, uniform in +-bound
    ckks_flood_sigma: float = 1e-5  # noise the active adds to CKKS decryptions it returns
    device: str = "cpu"  # cpu | torch | cuda | cupy | auto: this party's compute, not the wire

    def __post_init__(self) -> None:
        names = [
            (self.solver is None or self.solver in SOLVERS, f"solver must be one of {', '.join(SOLVERS)}"),
            (
                self.optimizer is None or self.optimizer in ("adam", "sgd"),
                "optimizer must be 'adam' or 'sgd'",
            ),
        ]
        for f in ("max_iter", "memory", "epochs", "batch_size"):
            v = getattr(self, f)
            names.append(
                (v is None or (isinstance(v, int) and not isinstance(v, bool)), f"{f} must be a whole number")
            )
        for f in ("learning_rate", "l2", "tol"):
            v = getattr(self, f)
            ok = v is None or (isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v))
            names.append((ok, f"{f} must be a finite number"))
        _refuse(names)  # before anything derived from them
        method = self.method
        checks = [
            (
                not (self.solver in ("adam", "sgd") and self.optimizer not in (None, self.solver)),
                f"solver={self.solver!r} and optimizer={self.optimizer!r} disagree",
            ),
            (
                not (method == "lbfgs" and any(getattr(self, f) is not None for f in MINIBATCH_FIELDS)),
                "epochs, batch_size, learning_rate, optimizer and dp_epsilon are mini-batch fields: "
                "drop them for solver 'lbfgs', or choose solver 'adam' (DP needs a mini-batch solver)",
            ),
            (self.max_iter >= 1, "max_iter must be >= 1"),
            (self.memory >= 1, "memory must be >= 1"),
            (self.n_epochs >= 1, "epochs must be >= 1"),
            (self.n_batch >= 1, "batch_size must be >= 1"),
            (self.rate > 0, "learning_rate must be > 0"),
            (self.l2 is None or self.l2 >= 0, "l2 must be >= 0"),
            (self.convergence_tol >= 0, "tol must be >= 0"),
            (0 <= self.validation_fraction < 0.5, "validation_fraction must be in [0, 0.5)"),
            (self.he in HE_NAMES, f"he must be one of {', '.join(HE_NAMES)}"),
            (self.clip_norm > 0, "clip_norm must be > 0"),
            (self.grad_mask_bound >= 1, "grad_mask_bound must be >= 1"),
            (self.ckks_flood_sigma >= 0, "ckks_flood_sigma must be >= 0"),
            (self.patience >= 1, "patience must be >= 1"),
        ]
        _refuse(checks)
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

    # -- resolved values (what the protocols read) -------------------------------------------
    @property
    def method(self) -> str:
        """The solver in effect: ``"lbfgs"``, ``"adam"`` or ``"sgd"`` (see the class docstring)."""
        if self.solver is not None:
            return self.solver
        if any(getattr(self, f) is not None for f in MINIBATCH_FIELDS):
            return self.optimizer or "adam"
        return "lbfgs"

    @property
    def minibatch_optimizer(self) -> str:
        """The optimiser a passive uses when the active runs a mini-batch solver."""
        return self.optimizer or (self.solver if self.solver in ("adam", "sgd") else "adam")

    @property
    def n_epochs(self) -> int:
        return MINIBATCH_EPOCHS if self.epochs is None else self.epochs

    @property
    def n_batch(self) -> int:
        return MINIBATCH_BATCH if self.batch_size is None else self.batch_size

    @property
    def rate(self) -> float:
        return MINIBATCH_RATE if self.learning_rate is None else self.learning_rate

    @property
    def convergence_tol(self) -> float:
        return TOL_DEFAULTS[self.method] if self.tol is None else float(self.tol)

    def penalty(self, n_train: int) -> float:
        """The L2 coefficient on the mean loss over ``n_train`` rows (see the class docstring)."""
        return 1.0 / max(n_train, 1) if self.l2 is None else float(self.l2)


def _refuse(checks: list[tuple[bool, str]]) -> None:
    for ok, what in checks:
        if not ok:
            raise ConfigError(f"invalid LR parameters: {what}", "fix the job file's [lr] table")


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
    solver: str = "adam"  # the solver that ran
    n_iter: int = 0  # L-BFGS: iterations (steps taken); mini-batch: optimiser steps
    rounds: int = 0  # HE gradient rounds (each: encrypt residuals, passives' X^T d, decrypt)

    @property
    def fingerprint(self) -> str:
        return part_fingerprint(self.weights, self.intercept, self.standardiser)


def part_fingerprint(weights: np.ndarray, intercept: float | None, std: Standardiser) -> str:
    """SHA-256 over a party's part, so scoring refuses parts from different trainings."""
    h = hashlib.sha256(b"vfl/lr/part/v1")
    for a in (weights, std.mean, std.scale, np.array([np.nan if intercept is None else intercept])):
        h.update(np.ascontiguousarray(a, dtype="<f8").tobytes())
    return h.hexdigest()
