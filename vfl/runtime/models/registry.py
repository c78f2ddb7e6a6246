"""The one list of model kinds and job kinds.

Everything that names a model derives from here: the CLI's ``--model``/``--he`` choices and
defaults, job-file checks, the estimators' default HE, ``--param`` validation, the handshake's
task check, the centralised baseline and the report's title and sections. Adding a model is one
:class:`ModelKind` entry plus the model's own files (its parameters, its adapter, its baseline).

Entries name their code as ``"module:attribute"`` and load it on first use, so reading the
registry (``vfl --help``, job-file checks) imports no crypto, no scikit-learn and no xgboost.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, fields
from functools import cached_property
from typing import Any

import numpy as np

from vfl.core.errors import ConfigError
from vfl.crypto.he import BACKENDS as HE_BACKENDS

__all__ = [
    "HE_BACKENDS",
    "JOB_KINDS",
    "MODELS",
    "MODEL_CHOICES",
    "NO_MODEL",
    "JobKind",
    "ModelKind",
    "default_he",
    "make_params",
    "model_kind",
    "parse_param_value",
]

#: ``--model none`` / ``model = "none"``: alignment (PSI) only.
NO_MODEL = "none"

#: Parameters that are not the model's to agree on: chosen by the job (``he``, ``seed``) or
#: party-local and never sent (``device``).
_JOB_LEVEL = ("he", "seed", "device")


def _load(ref: str) -> Any:
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


@dataclass(frozen=True)
class ModelKind:
    """One trainable model family."""

    name: str
    title: str  # the report's and the summary's name for it
    default_he: str  # the measured best scheme for this model (one default, used by every door)
    params_ref: str  # the parameter dataclass: fields with defaults, checked in __post_init__
    fit_ref: str  # (channel, table, *, active, params, progress=, checkpoint=, scheme=, executor=) -> part
    predict_ref: str  # (channel, part, table, device="cpu") -> scores at the label holder, else None
    part_ref: str  # the part's class: to_dict() / from_dict()
    baseline_ref: str  # (params, x_train, y_train) -> predict_proba-like callable on a matrix
    baseline_title: str  # what the centralised baseline is, for the summary
    contribution: str  # report section: how a party's share is measured ("gain" | "coefficients")
    zeros_ahead: bool = False  # the label holder's encryptions use [[0]]s made ahead (keygen.py)

    @cached_property
    def params_type(self) -> Any:
        return _load(self.params_ref)

    @property
    def fit(self) -> Callable[..., Any]:
        return _load(self.fit_ref)  # type: ignore[no-any-return]

    @property
    def predict(self) -> Callable[..., np.ndarray | None]:
        return _load(self.predict_ref)  # type: ignore[no-any-return]

    @property
    def part_type(self) -> Any:  # a part class: to_dict() / from_dict()
        return _load(self.part_ref)

    @property
    def baseline(self) -> Callable[..., Callable[[np.ndarray], np.ndarray]]:
        return _load(self.baseline_ref)  # type: ignore[no-any-return]

    def param_defaults(self) -> dict[str, Any]:
        """The model's own parameters and their defaults (what ``--param`` may set)."""
        out = {}
        for f in fields(self.params_type):
            if f.name in _JOB_LEVEL:
                continue
            if f.default is not MISSING:
                out[f.name] = f.default
            elif f.default_factory is not MISSING:
                out[f.name] = f.default_factory()
        return out


MODELS: dict[str, ModelKind] = {
    m.name: m
    for m in (
        ModelKind(
            name="lr",
            title="Vertical logistic regression",
            default_he="ckks",
            params_ref="vfl.protocols.lr.params:LRParams",
            fit_ref="vfl.runtime.models.lr:fit_lr_party",
            predict_ref="vfl.runtime.models.lr:predict_lr_party",
            part_ref="vfl.runtime.models.lr:LRPartyModel",
            baseline_ref="vfl.runtime.evaluate.baseline:logistic_regression",
            baseline_title="scikit-learn LogisticRegression",
            contribution="coefficients",
        ),
        ModelKind(
            name="sbt",
            title="SecureBoost",
            # OU: the fastest secure scheme measured for SecureBoost (4.9 s against zpaillier's
            # 38.8 s and CKKS's 11.7 s on default_credit, 5 trees; README), as SecretFlow's SGB.
            default_he="ou",
            params_ref="vfl.runtime.models.sbt:SBTParams",
            fit_ref="vfl.runtime.models.sbt:fit_sbt_party",
            predict_ref="vfl.runtime.models.sbt:predict_sbt_party",
            part_ref="vfl.runtime.models.sbt:SBTPartyModel",
            baseline_ref="vfl.runtime.evaluate.baseline:xgboost_hist",
            baseline_title="xgboost hist",
            contribution="gain",
            zeros_ahead=True,
        ),
        ModelKind(
            name="glm",
            title="Vertical generalised linear model",
            default_he="ckks",  # LR's protocol, so LR's measured best scheme
            params_ref="vfl.runtime.models.glm:GLMParams",
            fit_ref="vfl.runtime.models.glm:fit_glm_party",
            predict_ref="vfl.runtime.models.glm:predict_glm_party",
            part_ref="vfl.runtime.models.glm:GLMPartyModel",
            baseline_ref="vfl.runtime.models.glm:sklearn_glm",
            baseline_title="scikit-learn LinearRegression, Poisson/Gamma/TweedieRegressor",
            contribution="coefficients",
        ),
    )
}

#: What ``--model`` accepts: every model kind, or alignment only.
MODEL_CHOICES = (*MODELS, NO_MODEL)


@dataclass(frozen=True)
class JobKind:
    """One kind of job a party can be asked to run (the handshake's ``task``)."""

    name: str
    title: str
    trains: bool  # needs a model kind and a label holder


JOB_KINDS: dict[str, JobKind] = {
    k.name: k
    for k in (
        JobKind("train", "align by PSI, then train (or align only, with model none)", trains=True),
        JobKind("predict", "align new rows by PSI, then score them with trained parts", trains=False),
        JobKind(
            "analyze",
            "align by PSI, then feature statistics, WOE/IV and cross-party correlation",
            trains=False,
        ),
    )
}


def model_kind(name: str, where: str = "--model") -> ModelKind:
    if name not in MODELS:
        raise ConfigError(f"{where}: unknown model {name!r}", f"choose one of {', '.join(MODEL_CHOICES)}")
    return MODELS[name]


def default_he(model: str) -> str:
    """The HE scheme a job uses when none is named (CKKS for alignment-only jobs: unused)."""
    return MODELS[model].default_he if model in MODELS else "ckks"


def parse_param_value(text: str) -> Any:
    """``--param K=V`` values: TOML-like scalars (int, float, true/false, none) or a string."""
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    for conv in (int, float):
        try:
            value = conv(text)
        except ValueError:
            continue
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"parameter value {text!r} is not finite", "use a finite number")
        return value
    return text


def make_params(model: str, he: str, seed: int, extra: Mapping[str, Any]) -> Any:
    """Job parameters for ``model``; unknown keys are refused with the list of known ones, and a
    value of the wrong type is a ConfigError naming the parameter (never a TypeError)."""
    kind = model_kind(model)
    known = {f.name for f in fields(kind.params_type)}
    unknown = sorted(set(extra) - known)
    if unknown:
        raise ConfigError(
            f"unknown {model} parameters: {', '.join(unknown)}",
            f"known parameters: {', '.join(sorted(set(known) - set(_JOB_LEVEL)))}",
        )
    if he not in HE_BACKENDS:
        raise ConfigError(f"unknown HE scheme {he!r}", f"choose one of {', '.join(HE_BACKENDS)}")
    defaults = kind.param_defaults()
    values = {key: _checked(model, key, value, defaults.get(key)) for key, value in extra.items()}
    try:
        return kind.params_type(**{"he": he, "seed": seed, **values})
    except ConfigError:
        raise
    except (TypeError, ValueError, OverflowError) as exc:
        raise ConfigError(
            f"invalid {model} parameters: {exc}", "check the values of --param / [params]"
        ) from exc


def _checked(model: str, key: str, value: Any, default: Any) -> Any:
    """A number where the default is a number (a whole float becomes an int where the default is
    one), a bool where it is a bool, a string where a string; other defaults are the model's to check."""
    if default is None or key in _JOB_LEVEL:
        return value
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int | float):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        ok = ok and math.isfinite(float(value))
        if ok and isinstance(default, int) and not isinstance(default, bool) and isinstance(value, float):
            ok = value.is_integer()
    elif isinstance(default, str):
        ok = isinstance(value, str)
    else:
        return value
    if not ok:
        raise ConfigError(
            f"{model} parameter {key}={value!r} has the wrong type (default {default!r})",
            f"give {key} a {type(default).__name__}",
        )
    if isinstance(default, int) and not isinstance(default, bool):
        return int(value)
    return value
