"""What both SecureBoost roles share: topics (one per message and round), the hyper-parameters,
bit packing of row partitions, the level-wise histogram builder and the time/byte clock.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from vfl.compute import MULTICLASS, OBJECTIVES, check_tweedie_power, n_outputs
from vfl.core.errors import ConfigError, DataError, ProtocolError
from vfl.crypto.he.base import ZeroSpan
from vfl.transport.channel import Channel
from vfl.wire.arrays import from_ndarray, to_ndarray
from vfl.wire.v1 import common_pb2, secureboost_pb2

__all__ = [
    "SBTConfig",
    "Topics",
    "TreeClock",
    "apply_partitions",
    "check_gh_chunk_rows",
    "chunk_lengths",
    "complete_level",
    "gh_chunk_rows",
    "pack_bits",
    "plan_level",
    "unpack_bits",
]


@dataclass(frozen=True)
class SBTConfig:
    """Hyper-parameters with xgboost's names and meanings."""

    n_estimators: int = 5
    max_depth: int = 3
    learning_rate: float = 0.3
    min_child_weight: float = 1.0
    reg_lambda: float = 1.0
    gamma: float = 0.0
    max_bin: int = 32
    max_leaves: int | None = None
    objective: str = "binary:logistic"
    num_class: int | None = None  # multi-class: None = inferred from the labels (max + 1)
    base_score: float | None = None
    tweedie_variance_power: float = 1.5  # reg:tweedie only, in (1, 2)
    dp_epsilon: float | None = None  # label-DP on g/h (Gaussian, RDP-accounted); None = off
    dp_delta: float = 1e-5
    dp_clip: float = 1.0  # |g| and h are clipped to this bound before noise
    subsample: float = 1.0  # share of rows each tree is grown on (xgboost's name and meaning)
    seed: int = 0  # the row samples' seed (samples are revealed to passives, so not a secret)

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ConfigError(f"unknown objective {self.objective!r}", f"use one of {OBJECTIVES}")
        checks = [
            (self.n_estimators >= 1, "n_estimators must be >= 1"),
            (1 <= self.max_depth <= 16, "max_depth must be in 1..16"),
            (0 < self.learning_rate <= 1, "learning_rate must be in (0, 1]"),
            (self.min_child_weight >= 0, "min_child_weight must be >= 0"),
            (self.reg_lambda >= 0, "reg_lambda must be >= 0"),
            (self.gamma >= 0, "gamma must be >= 0"),
            (2 <= self.max_bin <= 1024, "max_bin must be in 2..1024"),
            (self.max_leaves is None or self.max_leaves >= 2, "max_leaves must be >= 2"),
            (self.dp_clip > 0, "dp_clip must be > 0"),
            (0 < self.subsample <= 1, "subsample must be in (0, 1]"),
        ]
        for ok, what in checks:
            if not ok:
                raise ConfigError(f"invalid SecureBoost parameter: {what}", "fix the job parameters")
        check_tweedie_power(self.tweedie_variance_power)
        if self.objective in MULTICLASS and self.num_class is not None:
            n_outputs(self.objective, self.num_class)

    def with_labels(self, y: np.ndarray) -> SBTConfig:
        """The config with ``num_class`` inferred from the labels where a multi-class objective
        leaves it out (the label holder's business: passives learn only the tree count)."""
        if self.objective not in MULTICLASS or self.num_class is not None:
            return self
        if len(y) == 0 or not np.isfinite(y).all() or y.min() < 0 or np.mod(y, 1).any():
            raise DataError(
                f"{self.objective} needs integer class labels 0..K-1",
                "recode the label column (e.g. with the classifier's label encoding)",
            )
        return replace(self, num_class=max(int(y.max()) + 1, 2))

    @property
    def trees_per_round(self) -> int:
        return n_outputs(self.objective, self.num_class)

    @property
    def n_trees(self) -> int:
        return self.n_estimators * self.trees_per_round

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def row_sample(self, tree: int, n: int) -> np.ndarray | None:
        """Sorted rows tree ``tree`` grows on, or None for all rows (``subsample`` = 1).

        Drawn without replacement from (seed, tree) alone, so it is independent of the data and
        the labels: the passives learn each tree's sample and nothing from it. Only the
        encrypted gradients of these rows are sent, which is what makes ``subsample`` < 1 cut
        the encryption cost, the largest cost of a tree, in proportion.
        """
        if self.subsample >= 1.0:
            return None
        k = min(n, max(2, round(self.subsample * n)))
        rng = np.random.default_rng([self.seed, tree, 0x5B])
        return np.sort(rng.choice(n, size=k, replace=False))


class Topics:
    """Every SecureBoost topic, each naming its round so no message can stand in for another."""

    SETUP = "sbt/setup"
    INFO = "sbt/info"
    RESUME_OFFER = "sbt/resume/offer"  # passive -> active: SBTResumeOffer
    RESUME_START = "sbt/resume/start"  # active -> passive: SBTResumeStart
    PREDICT_REQUEST = "sbt/predict/request"
    PREDICT_ROUTING = "sbt/predict/routing"

    @staticmethod
    def gradients(tree: int, chunk: int = 0) -> str:
        return f"sbt/tree{tree}/gh" if chunk == 0 else f"sbt/tree{tree}/gh{chunk}"

    @staticmethod
    def plan(tree: int, level: int) -> str:
        return f"sbt/tree{tree}/level{level}/plan"

    @staticmethod
    def histograms(tree: int, level: int) -> str:
        return f"sbt/tree{tree}/level{level}/hist"

    @staticmethod
    def decisions(tree: int, level: int) -> str:
        return f"sbt/tree{tree}/level{level}/split"

    @staticmethod
    def outcomes(tree: int, level: int) -> str:
        return f"sbt/tree{tree}/level{level}/outcome"


#: [[g, h]] chunks hold a multiple of this many rows (one CKKS ciphertext's worth)
GH_CHUNK_BASE = 4096
#: a tree's [[g, h]] comes in at most this many chunks (a passive refuses more)
MAX_GH_CHUNKS = 64


def gh_chunk_rows(n: int, chunked: bool) -> int:
    """Rows per [[g, h]] chunk for n rows: 4096, or the multiple of it that keeps the chunk
    count <= 64; 0 (one message) for a scheme that cannot sum bucket sums across chunks. Small
    chunks let a passive start its bucket sums early; fewer keep the per-chunk cost (one
    message, F x bins ciphertext additions) small."""
    if not chunked:
        return 0
    per = -(-max(n, 1) // (GH_CHUNK_BASE * MAX_GH_CHUNKS))
    return GH_CHUNK_BASE * per


def chunk_lengths(m: int, chunk_rows: int) -> list[int]:
    """The rows of each [[g, h]] chunk of m rows (``chunk_rows`` 0: one chunk)."""
    step = chunk_rows or m
    return [min(step, m - a) for a in range(0, m, step)]


def check_gh_chunk_rows(chunk_rows: int, n: int, sender: str) -> int:
    """A passive's check of the announced chunk size: 0, or a multiple of 4096 that cuts n
    rows into at most 64 chunks."""
    if chunk_rows and (chunk_rows % GH_CHUNK_BASE or -(-n // chunk_rows) > MAX_GH_CHUNKS):
        raise ProtocolError(
            f"{sender} announced [[g, h]] chunks of {chunk_rows} rows for {n} rows; expected a "
            f"multiple of {GH_CHUNK_BASE} making at most {MAX_GH_CHUNKS} chunks"
        )
    return int(chunk_rows)


def pack_bits(bits: np.ndarray) -> common_pb2.NDArray:
    """A bool vector as packed bytes (8 rows per byte)."""
    return to_ndarray(np.packbits(np.asarray(bits, dtype=bool)))


def unpack_bits(msg: common_pb2.NDArray, n: int, what: str) -> np.ndarray:
    """The inverse of :func:`pack_bits`, refusing a payload whose size does not fit ``n`` rows."""
    raw = from_ndarray(msg)
    if raw.dtype != np.uint8 or raw.ndim != 1 or raw.size != (n + 7) // 8:
        raise ProtocolError(
            f"{what}: expected {(n + 7) // 8} packed bytes for {n} rows, got {raw.dtype} {raw.shape}"
        )
    return np.unpackbits(raw, count=n).astype(bool)


def apply_partitions(
    node_rows: dict[int, np.ndarray], partitions: Iterator[secureboost_pb2.NodePartition] | list
) -> list[tuple[int, int, int]]:
    """Split each partitioned node's rows into its children; returns (parent, left, right)."""
    pairs = []
    for p in partitions:
        if p.node not in node_rows:
            raise ProtocolError(f"partition names unknown node {p.node}")
        rows = node_rows[p.node]
        if p.n_rows != len(rows):
            raise ProtocolError(
                f"partition of node {p.node} covers {p.n_rows} rows, the node has {len(rows)}"
            )
        bits = unpack_bits(p.left_bits, len(rows), f"partition of node {p.node}")
        node_rows[p.left], node_rows[p.right] = rows[bits], rows[~bits]
        pairs.append((p.node, p.left, p.right))
    return pairs


def plan_level(
    expand: list[int],
    pairs: list[tuple[int, int, int]],
    node_rows: dict[int, np.ndarray],
) -> tuple[list[int], list[tuple[int, int, int]]]:
    """Which of the ``expand`` nodes to build, and which to derive by histogram subtraction.

    Where both children of last level's split are wanted, only the child with fewer rows is
    built (ties: the left one); its sibling is ``parent - built``, derived by the active party
    on decrypted plaintext histograms, which costs nothing (subtracting under HE costs about one
    modular exponentiation per bin, more than building a child of a few thousand rows). Returns
    (build, derive) with derive entries (sibling, parent, built).
    """
    want = set(expand)
    derive = []
    for parent, left, right in pairs:
        if left in want and right in want:
            small, big = (left, right) if len(node_rows[left]) <= len(node_rows[right]) else (right, left)
            derive.append((big, parent, small))
    derived = {big for big, _, _ in derive}
    return [nd for nd in expand if nd not in derived], derive


def complete_level(
    built: dict[int, tuple[Any, Any]],
    derive: list[tuple[int, int, int]],
    parents: dict[int, tuple[Any, Any]],
) -> dict[int, tuple[Any, Any]]:
    """Add the derived siblings (parent - built) to the built (G, H) histograms."""
    out = dict(built)
    for big, parent, small in derive:
        (pg, ph), (sg, sh) = parents[parent], built[small]
        out[big] = (pg - sg, ph - sh)
    return out


@dataclass
class TreeClock:
    """Splits one party's wall time per tree into crypto, network (waiting on peers) and compute."""

    channel: Channel
    trees: list[dict[str, Any]] = field(default_factory=list)
    _crypto: float = 0.0
    _t0: float = 0.0
    _wait0: float = 0.0
    _bytes0: int = 0
    _ops: dict[str, int] = field(default_factory=dict)
    _background: float = 0.0
    #: when this party's own thread ran crypto, (start, end) on ``time.perf_counter``'s clock
    spans: list[tuple[float, float]] = field(default_factory=list)

    def add_background(self, seconds: float) -> None:
        """Crypto this party ran on another thread during the tree (the label holder's [[0]]s,
        made while it waited): counted in the tree's crypto, not in its wall-time split."""
        self._background += seconds

    def start(self) -> None:
        self._crypto = 0.0
        self._background = 0.0
        self._ops = {}
        self._t0 = time.perf_counter()
        self._wait0 = self.channel.stats.wait_seconds
        self._bytes0 = self.channel.stats.total_bytes_sent

    @contextmanager
    def crypto(self) -> Iterator[None]:
        t = time.perf_counter()
        try:
            yield
        finally:
            end = time.perf_counter()
            self._crypto += end - t
            self.spans.append((t, end))

    def busy_seconds(self, background: Sequence[ZeroSpan] = ()) -> float:
        """How long any crypto of this party was under way: the union of its own spans, plus
        each background batch's CPU seconds placed in the gaps its own spans leave in that
        batch's window (a [[0]] process at idle priority runs only there on a shared core; on a
        core of its own it fills the window, and what overlaps counts once either way). Adding
        the seconds would count twice the time the threads waited for each other (one core, or
        heu holding the GIL): a ZPaillier label holder "spent" 105 s on crypto in a 96 s run
        that way."""
        starts: list[float] = []
        ends: list[float] = []
        for a, b in sorted(self.spans):  # merged into disjoint, ascending intervals
            if ends and a <= ends[-1]:
                ends[-1] = max(ends[-1], b)
            else:
                starts.append(a)
                ends.append(b)
        before = [0.0]  # own busy seconds before each interval
        for a, b in zip(starts, ends, strict=True):
            before.append(before[-1] + b - a)

        def busy_until(x: float) -> float:
            i = bisect.bisect_right(starts, x) - 1
            return 0.0 if i < 0 else before[i] + min(x, ends[i]) - starts[i]

        total = before[-1]
        for z in background:
            gaps = z.end - z.start - (busy_until(z.end) - busy_until(z.start))
            total += max(0.0, min(z.cpu, gaps))
        return total

    def count(self, op: str, k: int) -> None:
        """Add ``k`` units of crypto work (encrypted rows, bucket-summed row x feature terms):
        the bench divides them by the rates it measures to get the run's crypto floor."""
        self._ops[op] = self._ops.get(op, 0) + int(k)

    def stop(self, tree: int) -> dict[str, Any]:
        total = time.perf_counter() - self._t0
        network = self.channel.stats.wait_seconds - self._wait0
        rec = {
            "tree": tree,
            "seconds": {
                "total": total,
                "crypto": self._crypto + self._background,
                "network": network,
                "compute": max(total - self._crypto - network, 0.0),
            },
            "bytes_sent": self.channel.stats.total_bytes_sent - self._bytes0,
            "ops": dict(self._ops),
        }
        self.trees.append(rec)
        return rec
