"""One party's side of SecureBoost: training and federated inference over an open Channel.

The simulation and the CLI call :func:`fit_sbt_party` at every party (on its aligned rows) and
:func:`predict_sbt_party` to score. Keys are generated here at the active party; passives build a
public-only scheme from the context it sends. A party's model holds only its own part: the
active the trees, leaf values and its own splits; a passive its private split table. Each
party's part also holds its category map (categories seen in training; one bin each) and is
re-applied at predict, where a category unseen in training goes to the missing bin.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import numpy as np

from vfl.compute import MULTICLASS, get_backend, n_outputs, transform_margin
from vfl.compute.binning import category_cuts
from vfl.core.errors import ConfigError, DataError
from vfl.core.progress import Progress
from vfl.crypto.he import HEScheme, make_scheme, scheme_from_public_context
from vfl.data.categories import CategoryMap
from vfl.data.table import PartyTable
from vfl.executor.base import Executor
from vfl.executor.choose import executor_scope
from vfl.protocols.secureboost import (
    PassiveSplit,
    SBTConfig,
    Tree,
    decode_number,
    encode_number,
    predict_active,
    serve_predict,
    train_active,
    train_passive,
)
from vfl.protocols.secureboost.resume import Checkpointer
from vfl.transport.channel import Channel

__all__ = ["SBTParams", "SBTPartyModel", "fit_sbt_party", "predict_sbt_party"]

MODEL_FORMAT = "vfl.sbt.part/v1"


@dataclass(frozen=True)
class SBTParams(SBTConfig):
    """SecureBoost job parameters: the protocol's hyper-parameters (xgboost's names and
    meanings, DP, row sampling; validated on construction) plus the HE scheme and this party's
    compute device, which only the runtime uses."""

    he: str = "zpaillier"
    device: str = "cpu"

    def config(self) -> SBTConfig:
        """The protocol's part: run keys and checkpoints hash exactly these fields."""
        return SBTConfig(**{f.name: getattr(self, f.name) for f in fields(SBTConfig)})


@dataclass
class SBTPartyModel:
    """This party's part of a SecureBoost model (JSON-able; never pickled)."""

    party: str
    role: str  # "active" | "passive"
    active: str
    parties: list[str]
    job_id: str
    feature_names: list[str]
    params: dict[str, Any]
    trees: list[Tree] = field(default_factory=list)  # active only
    base_margin: float = 0.0  # active only
    splits: dict[int, PassiveSplit] = field(default_factory=dict)  # passive only
    fit_stats: dict[str, Any] = field(default_factory=dict)
    categories: CategoryMap = field(default_factory=CategoryMap)  # this party's, as trained
    offset_name: str | None = None  # active only: the offset column it was trained with

    @property
    def objective(self) -> str:
        return str(self.params["objective"])

    @property
    def n_outputs(self) -> int:
        return n_outputs(self.objective, self.params.get("num_class"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": MODEL_FORMAT,
            "party": self.party,
            "role": self.role,
            "active": self.active,
            "parties": list(self.parties),
            "job_id": self.job_id,
            "feature_names": list(self.feature_names),
            "params": dict(self.params),
            "trees": [t.to_dict() for t in self.trees],
            "base_margin": self.base_margin,
            "splits": {
                str(k): {
                    "feature": s.feature,
                    "threshold": encode_number(s.threshold),
                    "default_left": s.default_left,
                }
                for k, s in self.splits.items()
            },
            "fit_stats": self.fit_stats,
            "categories": self.categories.to_dict(),
            "offset_name": self.offset_name,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SBTPartyModel:
        if d.get("format") != MODEL_FORMAT:
            raise DataError(
                f"not a vfl SecureBoost model part (format {d.get('format')!r})",
                "point at the model folder written by `vfl train --model sbt`",
            )
        try:
            return cls(
                party=str(d["party"]),
                role=str(d["role"]),
                active=str(d["active"]),
                parties=[str(p) for p in d["parties"]],
                job_id=str(d["job_id"]),
                feature_names=[str(f) for f in d["feature_names"]],
                params=dict(d["params"]),
                trees=[Tree.from_dict(t) for t in d["trees"]],
                base_margin=float(d["base_margin"]),
                splits={
                    int(k): PassiveSplit(
                        int(s["feature"]), decode_number(s["threshold"]), bool(s["default_left"])
                    )
                    for k, s in d["splits"].items()
                },
                fit_stats=dict(d.get("fit_stats", {})),
                categories=CategoryMap.from_dict(d.get("categories")),
                offset_name=None if d.get("offset_name") is None else str(d["offset_name"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DataError(
                f"the SecureBoost model part is malformed ({exc})",
                "restore the file written by training, or re-train",
            ) from exc


def fit_sbt_party(
    channel: Channel,
    table: PartyTable,
    *,
    active: str,
    params: SBTParams,
    progress: Progress | None = None,
    checkpoint: Checkpointer | None = None,
    scheme: HEScheme | None = None,
    executor: Executor | None = None,
) -> SBTPartyModel:
    """Train this party's part; every party of the job calls this on its aligned rows.
    ``scheme``: the label holder's keys made ahead (``run_party_job`` makes them during PSI);
    None makes them here. ``executor``: where the HE bulk work runs (the job's own, shared with
    its PSI; None opens one from ``[compute]``). ``checkpoint``
    (``vfl.runtime.store.checkpoint.Checkpoint``): saved after every tree; opened with
    ``resume=True``, training continues from the newest tree all parties hold."""
    parties = sorted([channel.me, *channel.peers])
    if active not in parties:
        raise ConfigError(
            f"active party {active!r} is not in the job ({', '.join(parties)})",
            "name one of the job's parties as the label holder",
        )
    if channel.me == active and table.label is None:
        raise DataError(
            f"{table.name} is the active party but has no label column",
            "pass --label NAME:COLUMN for the party that holds the label",
        )
    if channel.me == active and params.objective in MULTICLASS and params.num_class is None:
        assert table.label is not None
        params = replace(params, num_class=params.config().with_labels(table.label).num_class)
    table, n_cats = _train_categories(table, params.max_bin)
    cfg = params.config()
    backend = get_backend(params.device)
    model = SBTPartyModel(
        party=channel.me,
        role="active" if channel.me == active else "passive",
        active=active,
        parties=parties,
        job_id=channel.job_id,
        feature_names=list(table.feature_names),
        params={k: v for k, v in asdict(params).items() if k != "device"},
        categories=table.categories,
    )
    if channel.me == active:
        assert table.label is not None
        passives = [p for p in parties if p != active]
        t0 = time.perf_counter()
        scheme = scheme or make_scheme(params.he)
        keygen_seconds = time.perf_counter() - t0  # 0 for keys made ahead
        with executor_scope(executor) as work:  # [compute]: this party's own, never sent
            res = train_active(
                channel,
                table.features,
                table.label,
                scheme,
                cfg,
                passives=passives,
                backend=backend,
                progress=progress,
                checkpoint=checkpoint,
                offset=table.offset,
                categories=n_cats,
                executor=work,
            )
        model.trees, model.base_margin = res.trees, res.base_margin
        model.offset_name = table.offset_name if table.offset is not None else None
        stats = {**res.stats, "keygen_seconds": keygen_seconds}
    else:
        with executor_scope(executor) as work:
            pres = train_passive(
                channel,
                table.features,
                active=active,
                open_scheme=scheme_from_public_context,
                backend=backend,
                progress=progress,
                checkpoint=checkpoint,
                categories=n_cats,
                executor=work,
            )
        model.splits = pres.splits
        stats = pres.stats
    model.fit_stats = {**_summarise(stats, channel), "device": backend.name}  # never sent
    return model


def predict_sbt_party(
    channel: Channel, model: SBTPartyModel, table: PartyTable, device: str = "cpu"
) -> np.ndarray | None:
    """Federated inference on aligned rows: predictions at the active party, None at passives.
    ``device``: where this party computes, chosen by the scoring job (a part trained on a GPU
    scores on a CPU-only machine too).

    binary:logistic -> P(y=1) (n,); multi:softmax / multi:softprob -> class probabilities
    (n, K); reg:squarederror -> predicted values (n,); count:poisson, reg:gamma, reg:tweedie ->
    predicted means exp(margin) (n,). The table's offset, where it has one, is added to every
    row's margin (a model trained with an offset scores rows without one at offset 0).
    """
    if table.feature_names != model.feature_names:
        raise DataError(
            f"{table.name}'s columns differ from those its model was trained on",
            f"provide the columns {model.feature_names}",
        )
    if len(model.categories) or len(table.categories):
        table = table.apply_categories(model.categories)
    if model.role != "active":
        serve_predict(channel, table.features, model.splits, active=model.active)
        return None
    passives = [p for p in model.parties if p != model.party]
    if sorted(channel.peers) != sorted(passives):
        raise ConfigError(
            f"the model was trained with {passives}, this job has {channel.peers}",
            "score with the same parties that trained the model",
        )
    backend = get_backend(device)
    margin = predict_active(
        channel,
        table.features,
        model.trees,
        base=model.base_margin,
        n_outputs=model.n_outputs,
        passives=passives,
        backend=backend,
        offset=table.offset,
    )
    xp = backend.xp
    out = np.asarray(
        backend.to_numpy(
            transform_margin(
                xp, model.objective, backend.asarray(margin if model.n_outputs > 1 else margin[:, 0])
            )
        )
    )
    return out


def _train_categories(table: PartyTable, max_bin: int) -> tuple[PartyTable, list[int] | None]:
    """The training rows' category map (unseen ones dropped) and the category count of each
    feature (0: numeric), refused up front where a column has more categories than bins."""
    if not len(table.categories):
        return table, None
    table = table.fit_categories(np.arange(table.n_rows))
    counts = [table.categories.n_categories(c) if c in table.categories else 0 for c in table.feature_names]
    for c, k in zip(table.feature_names, counts, strict=True):
        if k:
            category_cuts(k, max_bin, f"{table.name}'s column {c!r}")
    return table, counts


def _summarise(stats: dict[str, Any], channel: Channel) -> dict[str, Any]:
    """Per-tree seconds plus totals, bytes per peer, and (active) each party's gain share."""
    trees = stats.get("trees", [])
    totals = {
        k: round(sum(t["seconds"][k] for t in trees), 4) for k in ("total", "crypto", "compute", "network")
    }
    # crypto_busy: how long any crypto ran (threads' overlaps counted once), crypto: their sum
    totals["crypto_busy"] = round(stats.get("crypto_busy_seconds", totals["crypto"]), 4)
    out: dict[str, Any] = {
        "he": stats.get("he"),
        "trees": trees,
        "seconds": totals,
        "bytes_sent": dict(channel.stats.bytes_sent),
        "bytes_sent_total": channel.stats.total_bytes_sent,
        "resumed_from_tree": stats.get("resumed_from_tree", 0),
    }
    ops: dict[str, int] = {}
    for t in trees:
        for k, v in t.get("ops", {}).items():
            ops[k] = ops.get(k, 0) + v
    out["ops"] = ops  # crypto work (encrypted rows, bucket-summed terms): the bench's floor
    if "loss_metric" in stats:
        out["loss_metric"] = stats["loss_metric"]
    for k in ("keygen_seconds", "setup_seconds"):
        if k in stats:
            out[k] = round(stats[k], 4)
    if "gain" in stats:
        total_gain = sum(stats["gain"].values()) or 1.0
        out["gain"] = stats["gain"]
        out["gain_share"] = {p: g / total_gain for p, g in stats["gain"].items()}
        out["splits"] = stats["splits"]
        out["dp"] = stats.get("dp", {})
    return out
