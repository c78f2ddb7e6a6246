"""Shared helpers for the LR tests: the FATE splits, a stratified 80/20 holdout, federated fit +
score over in-memory parties, and the centralised scikit-learn baseline on the same rows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from vfl.bench.harness import load_aligned, run_parties, stratified_split
from vfl.data.datasets import fate_pair
from vfl.data.table import PartyTable
from vfl.runtime.models.lr import LRParams, LRPartyModel, fit_lr_party, predict_lr_party


@dataclass
class Outcome:
    models: dict[str, LRPartyModel]
    test_auc: float
    sklearn_auc: float
    scores: np.ndarray


def load(name: str) -> tuple[list[PartyTable], str]:
    guest, host = fate_pair(name)
    return load_aligned({"guest": guest, "host": host})


def split_host(tables: list[PartyTable], parts: int) -> list[PartyTable]:
    """Split the host's columns among ``parts`` passives (for multi-party runs)."""
    guest, host = tables
    out = [guest]
    for i, cols in enumerate(np.array_split(np.arange(host.n_features), parts)):
        out.append(
            PartyTable(f"host{i}", host.ids, host.features[:, cols], [host.feature_names[c] for c in cols])
        )
    return out


def fit_and_score(tables: list[PartyTable], active: str, params: LRParams) -> Outcome:
    by = {t.name: t for t in tables}
    y = by[active].label
    assert y is not None
    tr, te = stratified_split(y)
    names = list(by)
    models = run_parties(names, lambda ch: fit_lr_party(ch, by[ch.me].take(tr), active=active, params=params))
    scores = run_parties(names, lambda ch: predict_lr_party(ch, models[ch.me], by[ch.me].take(te)))
    pooled = np.hstack([t.features for t in tables])
    sk = LogisticRegression(max_iter=1000).fit(pooled[tr], y[tr])
    return Outcome(
        models,
        float(roc_auc_score(y[te], scores[active])),
        float(roc_auc_score(y[te], sk.decision_function(pooled[te]))),
        scores[active],
    )
