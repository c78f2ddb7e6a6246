"""Real public tables for the LR accuracy checks (tests/data/tables/README.md says where each
comes from), each split by columns into three parties, and the comparison the issue asks for:
federated LR with default parameters against scikit-learn's ``StandardScaler +
LogisticRegression`` on the same rows and the same stratified 80/20 split."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from vfl.bench.harness import run_parties, stratified_split
from vfl.data.datasets import fate_frames
from vfl.data.table import PartyTable
from vfl.runtime.models.lr import LRParams, LRPartyModel, fit_lr_party, predict_lr_party

__all__ = ["PARTIES", "SMALL_RAW", "TABLES", "Comparison", "compare", "load_table", "three_parties"]

DATA = Path(__file__).resolve().parents[2] / "data" / "tables"
PARTIES = ("hospital", "insurer", "pharma")  # the first holds the label

#: name -> (file in tests/data/tables, label column); "breast_cancer" is scikit-learn's own copy
#: and "default_credit" FATE's split shipped with vfl
TABLES = {
    "breast_cancer": ("", "target"),
    "gbsg2": ("gbsg2.csv.gz", "cens"),
    "anes96": ("anes96.csv.gz", "vote"),
    "actg175": ("actg175.csv.gz", "cens"),
    "fair": ("fair.csv.gz", "had_affair"),
    "default_credit": ("", "y"),
}
#: the three small tables with raw, unscaled columns that run in CI
SMALL_RAW = ("breast_cancer", "gbsg2", "anes96")


def load_table(name: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(features, 0/1 labels, feature names) of one table, columns raw as published."""
    file, label = TABLES[name]
    if name == "breast_cancer":
        from sklearn.datasets import load_breast_cancer

        bunch = load_breast_cancer()
        return bunch.data, bunch.target.astype(np.float64), [str(c) for c in bunch.feature_names]
    if name == "default_credit":
        guest, host = fate_frames(name)
        df = guest.merge(host, on="id").drop(columns=["id"])
    else:
        df = pd.read_csv(DATA / file)
    y = df.pop(label).to_numpy(dtype=np.float64)
    return df.to_numpy(dtype=np.float64), y, [str(c) for c in df.columns]


def three_parties(x: np.ndarray, y: np.ndarray, names: list[str]) -> list[PartyTable]:
    """The columns in three contiguous groups, one per party; the first party holds the label."""
    ids = np.array([f"r{i}" for i in range(len(y))], dtype=object)
    out = []
    for party, cols in zip(PARTIES, np.array_split(np.arange(x.shape[1]), 3), strict=True):
        label = y if party == PARTIES[0] else None
        out.append(
            PartyTable(
                party,
                ids,
                x[:, cols],
                [names[c] for c in cols],
                label=label,
                label_name="y" if label is not None else None,
            )
        )
    return out


@dataclass
class Comparison:
    table: str
    he: str
    rows: int
    features: int
    auc: float
    sk_auc: float
    loss: float
    sk_loss: float
    n_iter: int
    rounds: int
    sk_iter: int
    models: dict[str, LRPartyModel]

    @property
    def loss_ratio(self) -> float:
        return self.loss / self.sk_loss


def compare(name: str, he: str, params: LRParams | None = None) -> Comparison:
    """Federated LR (``params``: the defaults but ``he``) against the centralised baseline."""
    x, y, names = load_table(name)
    tables = three_parties(x, y, names)
    tr, te = stratified_split(y)
    p = params or LRParams(he=he)
    by = {t.name: t for t in tables}
    models = run_parties(
        list(by), lambda ch: fit_lr_party(ch, by[ch.me].take(tr), active=PARTIES[0], params=p)
    )
    scores = run_parties(list(by), lambda ch: predict_lr_party(ch, models[ch.me], by[ch.me].take(te)))
    prob = scores[PARTIES[0]]
    sk = make_pipeline(StandardScaler(), LogisticRegression()).fit(x[tr], y[tr])
    sk_prob = sk.predict_proba(x[te])[:, 1]
    stats = models[PARTIES[0]].fit_stats
    return Comparison(
        table=name,
        he=he,
        rows=len(y),
        features=x.shape[1],
        auc=float(roc_auc_score(y[te], prob)),
        sk_auc=float(roc_auc_score(y[te], sk_prob)),
        loss=float(log_loss(y[te], prob)),
        sk_loss=float(log_loss(y[te], sk_prob)),
        n_iter=int(stats["n_iter"]),
        rounds=int(stats["rounds"]),
        sk_iter=int(sk[-1].n_iter_[0]),
        models=models,
    )
