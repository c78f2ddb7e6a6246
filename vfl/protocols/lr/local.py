"""What each party does on its own rows, identically at the active and at the passives:
standardisation, the agreed validation split and batch order, optimisers, timing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from vfl.core.errors import ConfigError, DataError

__all__ = ["SGD", "Adam", "Clock", "Optimizer", "Schedule", "Standardiser", "make_optimizer"]


@dataclass
class Standardiser:
    """Column mean/std fitted on the party's own training rows; never leaves the party."""

    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray) -> Standardiser:
        if not np.all(np.isfinite(x)):
            raise DataError("features hold NaN or infinite values", "impute or drop them before LR training")
        std = x.std(axis=0)
        return cls(mean=x.mean(axis=0), scale=np.where(std > 0, std, 1.0))

    def transform(self, x: np.ndarray) -> np.ndarray:
        if x.shape[1] != len(self.mean):
            raise DataError(
                f"table has {x.shape[1]} features, the model was trained on {len(self.mean)}",
                "score with the same feature columns the model was trained on",
            )
        return (x - self.mean) / self.scale


@dataclass(frozen=True)
class Schedule:
    """Validation split and batch order every party derives from the active's shared seed.

    The split is uniformly random (not stratified) so that it says nothing about the labels.
    """

    n_rows: int
    seed: int
    batch_size: int
    validation_fraction: float

    @property
    def n_val(self) -> int:
        if self.validation_fraction <= 0:
            return 0
        return min(max(1, int(self.n_rows * self.validation_fraction)), self.n_rows - 1)

    def _split(self) -> tuple[np.ndarray, np.ndarray]:
        perm = np.random.default_rng([self.seed, 0xA11]).permutation(self.n_rows)
        return np.sort(perm[self.n_val :]), np.sort(perm[: self.n_val])

    @property
    def train_rows(self) -> np.ndarray:
        return self._split()[0]

    @property
    def val_rows(self) -> np.ndarray:
        return self._split()[1]

    @property
    def n_train(self) -> int:
        return self.n_rows - self.n_val

    @property
    def batches_per_epoch(self) -> int:
        return -(-self.n_train // self.batch_size)

    def batches(self, epoch: int) -> list[np.ndarray]:
        rows = self.train_rows
        order = rows[np.random.default_rng([self.seed, epoch]).permutation(len(rows))]
        return [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]


class Optimizer:
    """Each party updates its own weights; only the gradient source differs between roles."""

    def __init__(self, learning_rate: float, l2: float, decay: float):
        self.learning_rate = learning_rate
        self.l2 = l2
        self.decay = decay

    def rate(self, epoch: int) -> float:
        """Inverse-time decay per epoch: lr / (1 + epoch) ** decay."""
        return self.learning_rate / (1.0 + epoch) ** self.decay

    def step(self, w: np.ndarray, grad: np.ndarray, epoch: int, l2_mask: np.ndarray) -> np.ndarray:
        return w - self._direction(grad + self.l2 * l2_mask * w) * self.rate(epoch)

    def _direction(self, grad: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def state(self) -> dict[str, np.ndarray]:
        """What a checkpoint must hold to continue exactly where this optimiser stopped."""
        return {}

    def restore(self, state: dict[str, np.ndarray]) -> None:
        """Undo :meth:`state` (from a checkpoint)."""


class SGD(Optimizer):
    def _direction(self, grad: np.ndarray) -> np.ndarray:
        return grad


class Adam(Optimizer):
    def __init__(
        self,
        learning_rate: float,
        l2: float,
        decay: float,
        b1: float = 0.9,
        b2: float = 0.999,
        eps: float = 1e-8,
    ):
        super().__init__(learning_rate, l2, decay)
        self.b1, self.b2, self.eps = b1, b2, eps
        self.t = 0
        self.m: np.ndarray | None = None
        self.v: np.ndarray | None = None

    def _direction(self, grad: np.ndarray) -> np.ndarray:
        if self.m is None or self.v is None:
            self.m, self.v = np.zeros_like(grad), np.zeros_like(grad)
        self.t += 1
        self.m = self.b1 * self.m + (1 - self.b1) * grad
        self.v = self.b2 * self.v + (1 - self.b2) * grad**2
        m_hat = self.m / (1 - self.b1**self.t)
        v_hat = self.v / (1 - self.b2**self.t)
        return m_hat / (np.sqrt(v_hat) + self.eps)

    def state(self) -> dict[str, np.ndarray]:
        out = {"adam_t": np.array([self.t], dtype=np.int64)}
        if self.m is not None and self.v is not None:
            out.update(adam_m=self.m.copy(), adam_v=self.v.copy())
        return out

    def restore(self, state: dict[str, np.ndarray]) -> None:
        self.t = int(np.asarray(state["adam_t"]).reshape(-1)[0])
        m, v = state.get("adam_m"), state.get("adam_v")
        self.m = None if m is None else np.array(m, dtype=np.float64)
        self.v = None if v is None else np.array(v, dtype=np.float64)


def make_optimizer(name: str, learning_rate: float, l2: float, decay: float) -> Optimizer:
    if name == "adam":
        return Adam(learning_rate, l2, decay)
    if name == "sgd":
        return SGD(learning_rate, l2, decay)
    raise ConfigError(f"unknown optimizer {name!r}", "use 'adam' or 'sgd'")


@dataclass
class Clock:
    """Seconds a party spent in HE operations and in local compute (network comes from the
    channel's wait time)."""

    crypto: float = 0.0
    started: float = field(default_factory=time.perf_counter)

    @contextmanager
    def in_crypto(self) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.crypto += time.perf_counter() - t0

    def split(self, network: float) -> dict[str, float]:
        total = time.perf_counter() - self.started
        return {
            "total": total,
            "crypto": self.crypto,
            "network": network,
            "compute": max(0.0, total - self.crypto - network),
        }
