"""Shared helpers for the SecureBoost tests: FATE data, parties as threads, xgboost reference."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from vfl.bench.harness import run_parties
from vfl.data.datasets import fate_pair
from vfl.data.table import PartyTable
from vfl.runtime.models.sbt import SBTParams, SBTPartyModel, fit_sbt_party, predict_sbt_party
from vfl.transport import Channel

DATA = fate_pair("breast")[0].parent  # FATE's splits, shipped in the package


def load(name: str) -> tuple[dict[str, PartyTable], str]:
    """A FATE guest (label, active) / host pair joined on id, rows sorted by id."""
    guest = pd.read_csv(DATA / f"{name}_hetero_guest.csv.gz").sort_values("id")
    host = pd.read_csv(DATA / f"{name}_hetero_host.csv.gz").set_index("id").loc[guest["id"]]
    ids = guest["id"].astype(str).to_numpy(dtype=object)
    g = guest.drop(columns=["id", "y"])
    tables = {
        "guest": PartyTable(
            "guest",
            ids,
            g.to_numpy(np.float64),
            list(g.columns),
            label=guest["y"].to_numpy(np.float64),
            label_name="y",
        ),
        "host": PartyTable("host", ids, host.to_numpy(np.float64), list(host.columns)),
    }
    return tables, "guest"


def split_rows(
    y: np.ndarray, *, stratify: bool, subsample: int | None = None, seed: int = 42
) -> tuple[np.ndarray, np.ndarray]:
    idx = np.arange(len(y))
    if subsample is not None:
        idx = np.sort(np.random.default_rng(0).choice(len(y), subsample, replace=False))
    tr, te = train_test_split(idx, test_size=0.2, stratify=y[idx] if stratify else None, random_state=seed)
    return np.sort(tr), np.sort(te)


def fit_predict(
    tables: dict[str, PartyTable],
    active: str,
    params: SBTParams,
    train: np.ndarray,
    test: np.ndarray,
    wrap: Callable[[Channel], Channel] | None = None,
) -> tuple[dict[str, SBTPartyModel], np.ndarray]:
    """Train every party on ``train`` rows, then score ``test`` rows federatedly."""
    names = list(tables)

    def fit(ch: Channel) -> SBTPartyModel:
        ch = wrap(ch) if wrap else ch
        return fit_sbt_party(ch, tables[ch.me].take(train), active=active, params=params)

    models: dict[str, SBTPartyModel] = run_parties(names, fit)

    def predict(ch: Channel) -> Any:
        ch = wrap(ch) if wrap else ch
        return predict_sbt_party(ch, models[ch.me], tables[ch.me].take(test))

    out = run_parties(names, predict)
    assert all(out[n] is None for n in names if n != active)
    return models, out[active]


def xgb_model(params: SBTParams, y_train: np.ndarray) -> Any:
    """xgboost hist with the same hyper-parameters (and base score) as ``params``."""
    import xgboost as xgb

    kw = dict(
        n_estimators=params.n_estimators,
        max_depth=params.max_depth,
        learning_rate=params.learning_rate,
        min_child_weight=params.min_child_weight,
        reg_lambda=params.reg_lambda,
        gamma=params.gamma,
        max_bin=params.max_bin,
        tree_method="hist",
        n_jobs=2,
        subsample=params.subsample,
        random_state=params.seed,
    )
    if params.objective == "binary:logistic":
        return xgb.XGBClassifier(base_score=float(y_train.mean()), **kw)
    if params.objective in ("multi:softmax", "multi:softprob"):
        return xgb.XGBClassifier(objective="multi:softprob", base_score=0.5, **kw)
    if params.objective == "reg:tweedie":
        kw["tweedie_variance_power"] = params.tweedie_variance_power
    return xgb.XGBRegressor(objective=params.objective, base_score=float(y_train.mean()), **kw)


def pooled(tables: dict[str, PartyTable]) -> np.ndarray:
    return np.hstack([t.features for t in tables.values()])
