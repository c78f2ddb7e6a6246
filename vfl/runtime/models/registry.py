"""The models a job can train, behind one small table: parameters, fit, predict, part format."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from vfl.core.errors import ConfigError
from vfl.runtime.models.lr import LRParams, LRPartyModel, fit_lr_party, predict_lr_party
from vfl.runtime.models.sbt import SBTParams, SBTPartyModel, fit_sbt_party, predict_sbt_party

__all__ = ["MODELS", "ModelKind", "make_params"]


@dataclass(frozen=True)
class ModelKind:
    name: str
    params_type: type
    fit: Callable[..., Any]
    predict: Callable[..., np.ndarray | None]  # (channel, part, table, device="cpu")
    part_type: type


MODELS: dict[str, ModelKind] = {
    "lr": ModelKind("lr", LRParams, fit_lr_party, predict_lr_party, LRPartyModel),
    "sbt": ModelKind("sbt", SBTParams, fit_sbt_party, predict_sbt_party, SBTPartyModel),
}


def make_params(model: str, he: str, seed: int, extra: dict[str, Any]) -> Any:
    """Job parameters for ``model``; unknown keys are refused with the list of known ones."""
    kind = MODELS[model]
    known = {f.name for f in fields(kind.params_type)}
    unknown = sorted(set(extra) - known)
    if unknown:
        raise ConfigError(
            f"unknown {model} parameters: {', '.join(unknown)}",
            f"known parameters: {', '.join(sorted(known))}",
        )
    return kind.params_type(**{"he": he, "seed": seed, **extra})
