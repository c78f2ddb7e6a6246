"""What both analysis roles share: topics, the job's settings, share policies, local statistics
and the correlation plan. See protocols/specs/analysis.md."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from vfl.core.errors import ConfigError, ProtocolError
from vfl.wire.v1 import analysis_pb2 as pb

__all__ = [
    "MAX_FEATURES",
    "QUANTILE_LEVELS",
    "SHARE_POLICIES",
    "AnalysisConfig",
    "Topics",
    "check_share",
    "local_stats",
    "plan_pairs",
    "read_info",
    "stats_message",
]

#: What a party may let leave it about its own columns: nothing (not even names), counts
#: (present, missing, distinct per column) or quantiles as well.
SHARE_POLICIES = ("nothing", "counts", "quantiles")

#: The quantile levels of the local statistics (min, tails, quartiles, median, max).
QUANTILE_LEVELS = (0.0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1.0)

#: Most features a passive may announce (a bound on everything sized by it).
MAX_FEATURES = 4096


def check_share(share: str, where: str = "share") -> str:
    if share not in SHARE_POLICIES:
        raise ConfigError(
            f"{where}: unknown share policy {share!r}", f"choose one of {', '.join(SHARE_POLICIES)}"
        )
    return share


@dataclass(frozen=True)
class AnalysisConfig:
    """The job's settings (every party agrees on them through the setup message)."""

    max_bin: int = 10  # FATE's default bin_num
    min_count: int = 10  # no reported bin holds fewer rows (k-anonymity of the event counts)
    correlation: bool = True
    scorecard: bool = False  # WOE transform per party + vertical LR + points per bin
    dp_epsilon: float | None = None  # Laplace noise on the decrypted counts, per feature; None = off
    iv_min: float = 0.02  # selection: keep features at least this informative ("weak" and above)
    max_abs_r: float = 0.9  # selection: of two features correlated beyond this, keep the higher IV
    seed: int = 0

    def __post_init__(self) -> None:
        checks = [
            (2 <= self.max_bin <= 256, "max_bin must be in 2..256"),
            (1 <= self.min_count <= 1_000_000, "min_count must be in 1..1000000"),
            (self.dp_epsilon is None or self.dp_epsilon > 0, "dp_epsilon must be > 0"),
            (self.iv_min >= 0, "iv_min must be >= 0"),
            (0 < self.max_abs_r <= 1, "max_abs_r must be in (0, 1]"),
        ]
        for ok, what in checks:
            if not ok:
                raise ConfigError(f"invalid analysis parameter: {what}", "fix the [analysis] settings")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Topics:
    """Every analysis topic, one per message and round."""

    SETUP = "analysis/setup"
    INFO = "analysis/info"
    LABELS = "analysis/labels"
    BINS = "analysis/bins"
    PLAN = "analysis/corr/plan"

    @staticmethod
    def columns(encryptor: str) -> str:
        return f"analysis/corr/{encryptor}/columns"

    @staticmethod
    def products(encryptor: str, evaluator: str) -> str:
        return f"analysis/corr/{encryptor}/{evaluator}/products"


def local_stats(X: np.ndarray, names: list[str]) -> list[dict[str, Any]]:
    """A party's own per-column aggregates on its aligned rows (never sent as such)."""
    X = np.asarray(X, dtype=np.float64)
    n = X.shape[0]
    out = []
    for f, name in enumerate(names):
        col = X[:, f]
        present = col[~np.isnan(col)]
        q = np.quantile(present, QUANTILE_LEVELS).tolist() if len(present) else []
        out.append(
            {
                "name": name,
                "present": len(present),
                "missing": n - len(present),
                "missing_rate": (n - len(present)) / n if n else 0.0,
                "distinct": len(np.unique(present)),
                "quantiles": q,
            }
        )
    return out


def stats_message(X: np.ndarray, names: list[str], share: str) -> pb.AnalysisInfo:
    """What a passive tells the active about itself under its share policy."""
    check_share(share)
    msg = pb.AnalysisInfo(n_rows=X.shape[0], n_features=X.shape[1], share=share)
    if share == "quantiles":
        msg.levels.extend(QUANTILE_LEVELS)
    for f, s in enumerate(local_stats(X, names)):
        fs = pb.FeatureStats(name=s["name"] if share != "nothing" else f"x{f}")
        if share != "nothing":
            fs.present, fs.missing, fs.distinct = s["present"], s["missing"], s["distinct"]
        if share == "quantiles":
            fs.quantiles.extend(s["quantiles"])
        msg.features.append(fs)
    return msg


def read_info(msg: pb.AnalysisInfo, peer: str, n_rows: int) -> list[dict[str, Any]]:
    """A passive's announced statistics, checked against the job: one entry per feature."""
    if msg.n_rows != n_rows:
        raise ProtocolError(
            f"{peer} holds {msg.n_rows} rows, the label holder {n_rows}",
            "align all parties' rows with `vfl psi` first",
        )
    if not 1 <= msg.n_features <= MAX_FEATURES or len(msg.features) != msg.n_features:
        raise ProtocolError(f"{peer} announced {msg.n_features} features with {len(msg.features)} entries")
    if msg.share not in SHARE_POLICIES:
        raise ProtocolError(f"{peer} announced an unknown share policy {msg.share[:40]!r}")
    out = []
    for fs in msg.features:
        if not 0 < len(fs.name) <= 256:
            raise ProtocolError(f"{peer} sent a feature name of {len(fs.name)} characters")
        entry: dict[str, Any] = {"name": fs.name}
        if msg.share != "nothing":
            if fs.present + fs.missing != n_rows or fs.distinct > fs.present:
                raise ProtocolError(f"{peer}'s counts of {fs.name!r} do not add up to {n_rows} rows")
            entry.update(
                present=fs.present,
                missing=fs.missing,
                distinct=fs.distinct,
                missing_rate=fs.missing / n_rows if n_rows else 0.0,
            )
        if msg.share == "quantiles":
            if len(fs.quantiles) not in (0, len(msg.levels)) or tuple(msg.levels) != QUANTILE_LEVELS:
                raise ProtocolError(f"{peer}'s quantiles of {fs.name!r} do not match the levels")
            entry["quantiles"] = list(fs.quantiles)
        out.append(entry)
    return out


def plan_pairs(order: list[str], columns: dict[str, int]) -> list[tuple[str, str]]:
    """(encryptor, evaluator) for every pair of parties. The active (first in ``order``, the key
    holder) encrypts in its own pairs: it must never receive ciphertexts of another party's
    columns under its own key. Between two passives the one with fewer columns encrypts."""
    pairs = []
    for i, p in enumerate(order):
        for q in order[i + 1 :]:
            if i == 0 or columns[p] <= columns[q]:
                pairs.append((p, q))
            else:
                pairs.append((q, p))
    return pairs
