"""One party's side of vertical LR: training and federated scoring over an open Channel.

The simulation and the CLI call :func:`fit_lr_party` at every party (on its aligned rows) and
:func:`predict_lr_party` to score. Keys are generated here at the active; passives build a
public-only scheme from the context the active sends. A party's model holds only its own part.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar, TypeVar

import numpy as np

from vfl.compute import get_backend
from vfl.core.errors import ConfigError, DataError
from vfl.core.progress import Progress
from vfl.crypto.he import HEScheme, make_scheme, scheme_from_public_context
from vfl.data.categories import CategoryMap
from vfl.data.table import PartyTable
from vfl.executor.base import Executor
from vfl.executor.choose import executor_scope
from vfl.protocols.common.resume import Checkpointer
from vfl.protocols.lr import (
    Family,
    LRParams,
    PartFit,
    Standardiser,
    part_fingerprint,
    predict_active,
    predict_passive,
    train_active,
    train_passive,
)
from vfl.transport.channel import Channel

__all__ = [
    "LRParams",
    "LRPartyModel",
    "fit_linear_part",
    "fit_lr_party",
    "predict_linear_part",
    "predict_lr_party",
]

MODEL_FORMAT = "vfl.lr.part/v1"
M = TypeVar("M", bound="LRPartyModel")


@dataclass
class LRPartyModel:
    """This party's part of a vertical LR model (JSON-able; never pickled)."""

    FORMAT: ClassVar[str] = MODEL_FORMAT
    party: str
    role: str  # "active" | "passive"
    active: str
    parties: list[str]
    job_id: str
    feature_names: list[str]
    weights: np.ndarray
    intercept: float | None
    mean: np.ndarray
    scale: np.ndarray
    he: str
    parts: dict[str, str]  # fingerprint of every party's part, from training
    params: dict[str, Any] = field(default_factory=dict)
    fit_stats: dict[str, Any] = field(default_factory=dict)
    # this party's category map as trained (text columns, one-hot here: never sent) and the
    # columns the weights belong to (a categorical column's one 0/1 column per category)
    categories: CategoryMap = field(default_factory=CategoryMap)
    columns: list[str] = field(default_factory=list)

    @property
    def weight_names(self) -> list[str]:
        """The name of each weight: a feature, or ``column=category`` for a one-hot column."""
        return list(self.columns or self.feature_names)

    @property
    def standardiser(self) -> Standardiser:
        return Standardiser(self.mean, self.scale)

    @property
    def fingerprint(self) -> str:
        return part_fingerprint(self.weights, self.intercept, self.standardiser)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("weights", "mean", "scale"):
            d[k] = [float(v) for v in getattr(self, k)]
        d["categories"] = self.categories.to_dict()
        return {"format": self.FORMAT, **d}

    @classmethod
    def from_dict(cls: type[M], d: dict[str, Any]) -> M:
        if d.get("format") != cls.FORMAT:
            raise DataError(
                f"not a vfl LR model part (format {d.get('format')!r})",
                "point at the model folder written by `vfl train`",
            )
        body = {k: v for k, v in d.items() if k != "format"}
        expected = {f.name for f in fields(cls)}
        optional = {"categories", "columns"}  # parts written before categorical columns had none
        if not (expected - optional <= set(body) <= expected):
            raise DataError(
                f"LR model part has fields {sorted(set(body) ^ expected)} wrong",
                "use a model file written by this version of vfl",
            )
        for k in ("weights", "mean", "scale"):
            body[k] = np.asarray(body[k], dtype=np.float64)
        body["categories"] = CategoryMap.from_dict(body.get("categories"))
        model = cls(**body)
        if model.parts.get(model.party) != model.fingerprint:
            raise DataError(
                f"{model.party}'s LR model part does not match its fingerprint",
                "the file was edited or corrupted; re-train or restore it",
            )
        return model


def fit_lr_party(
    channel: Channel,
    table: PartyTable,
    *,
    active: str,
    params: LRParams,
    progress: Progress | None = None,
    checkpoint: Checkpointer | None = None,
    scheme: HEScheme | None = None,
    executor: Executor | None = None,
) -> LRPartyModel:
    """Train this party's part; every party of the job calls this on its aligned rows.

    ``checkpoint`` (e.g. ``vfl.runtime.store.checkpoint.Checkpoint``): saved after every epoch; when it
    was opened with ``resume=True``, training continues from the newest epoch all parties hold.
    """
    return fit_linear_part(
        LRPartyModel,
        channel,
        table,
        active=active,
        params=params,
        progress=progress,
        checkpoint=checkpoint,
        scheme=scheme,
        executor=executor,
    )


def fit_linear_part(
    cls: type[M],
    channel: Channel,
    table: PartyTable,
    *,
    active: str,
    params: LRParams,
    progress: Progress | None = None,
    checkpoint: Checkpointer | None = None,
    offset: np.ndarray | None = None,
    scheme: HEScheme | None = None,
    executor: Executor | None = None,
) -> M:
    """:func:`fit_lr_party` for any part class of the linear family (``offset``: the active's).
    Categorical columns are one-hot at their own party: the map of the training rows' categories
    stays in the part, and only the expanded numeric columns enter the protocol."""
    parties = sorted([channel.me, *channel.peers])
    table = table.fit_categories(np.arange(table.n_rows)) if len(table.categories) else table
    x, columns = table.onehot()
    if active not in parties:
        raise ConfigError(
            f"active party {active!r} is not in the job ({', '.join(parties)})",
            "name one of the job's parties as the label holder",
        )
    if channel.me == active:
        if table.label is None:
            raise DataError(
                f"{table.name} is the active party but has no label column",
                "pass --label NAME:COLUMN for the party that holds the label",
            )
        passives = [p for p in parties if p != active]
        scheme = scheme or make_scheme(params.he)  # keys made ahead (during PSI) where given
        fit = train_active(
            channel,
            x,
            table.label,
            passives=passives,
            scheme=scheme,
            params=params,
            progress=progress,
            checkpoint=checkpoint,
            offset=offset,
        )
    else:
        with executor_scope(executor) as work:  # [compute]: this party's own, never sent
            fit = train_passive(
                channel,
                x,
                active=active,
                open_scheme=lambda msg: scheme_from_public_context(msg, channel.job_id),
                params=params,
                progress=progress,
                checkpoint=checkpoint,
                executor=work,
            )
    model = _model(cls, channel, table, active, parties, params, fit)
    if len(table.categories):
        model.categories, model.columns = table.categories, columns
    return model


def predict_lr_party(
    channel: Channel, model: LRPartyModel, table: PartyTable, device: str = "cpu"
) -> np.ndarray | None:
    """Federated scoring of the aligned rows: P(y=1) at the active, None at passives.
    ``device``: where this party computes its scores, chosen by the scoring job (a part trained
    on a GPU scores on a CPU-only machine too)."""
    return predict_linear_part(channel, model, table, device)


def predict_linear_part(
    channel: Channel,
    model: LRPartyModel,
    table: PartyTable,
    device: str = "cpu",
    family: Family | None = None,
    offset: np.ndarray | None = None,
) -> np.ndarray | None:
    """:func:`predict_lr_party` for any family: its mean at the active (with its ``offset``)."""
    if table.feature_names != model.feature_names:
        raise DataError(
            f"{table.name}'s columns differ from those its model was trained on",
            f"provide the columns {model.feature_names}",
        )
    if len(model.categories) or len(table.categories):  # the trained map; unseen categories -> zeros
        table = table.apply_categories(model.categories)
    x, _ = table.onehot()
    if model.role == "active":
        passives = [p for p in model.parties if p != model.party]
        if sorted(channel.peers) != sorted(passives):
            raise ConfigError(
                f"the model was trained with {passives}, this job has {channel.peers}",
                "score with the same parties that trained the model",
            )
        assert model.intercept is not None
        return predict_active(
            channel,
            x,
            weights=model.weights,
            intercept=model.intercept,
            standardiser=model.standardiser,
            passives=passives,
            model_job_id=model.job_id,
            parts=model.parts,
            device=device,
            family=family or Family(),
            offset=offset,
        )
    predict_passive(
        channel,
        x,
        weights=model.weights,
        standardiser=model.standardiser,
        active=model.active,
        model_job_id=model.job_id,
        fingerprint=model.fingerprint,
        device=device,
    )
    return None


def _model(
    cls: type[M],
    channel: Channel,
    table: PartyTable,
    active: str,
    parties: list[str],
    params: LRParams,
    fit: PartFit,
) -> M:
    stats = {
        "seconds": {k: round(v, 4) for k, v in fit.seconds.items()},
        "bytes_sent": fit.bytes_sent,
        "solver": fit.solver,
        "epochs_run": fit.epochs_run,  # L-BFGS: iterations (each one pass over every row)
        "n_iter": fit.n_iter,
        "rounds": fit.rounds,  # HE gradient rounds of this run
        "seconds_per_round": round(fit.seconds.get("total", 0.0) / fit.rounds, 4) if fit.rounds else None,
        "loss_history": fit.loss_history,
        "val_loss_history": fit.val_loss_history,
        "dp_epsilon": fit.dp_epsilon,
        "dp_delta": fit.dp_delta,
        "noise_multiplier": fit.noise_multiplier,
        "resumed_from_epoch": fit.resumed_from,
        "device": get_backend(params.device).name,  # where this party computed (never sent)
    }
    return cls(
        party=channel.me,
        role="active" if channel.me == active else "passive",
        active=active,
        parties=parties,
        job_id=channel.job_id,
        feature_names=list(table.feature_names),
        weights=fit.weights,
        intercept=fit.intercept,
        mean=fit.standardiser.mean,
        scale=fit.standardiser.scale,
        he=params.he,
        parts=fit.parts,
        params={k: v for k, v in asdict(params).items() if k != "device"},  # party-local
        fit_stats=stats,
    )
