"""Real public tables for the GLM tests (tests/data/tables/README.md), three parties each, and
the federated fit + score of one objective on an 80/20 split of the rows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tests.protocols.lr.tables import DATA, PARTIES, three_parties
from vfl.bench.harness import run_parties
from vfl.data.table import PartyTable
from vfl.runtime.models.glm import GLMParams, GLMPartyModel, fit_glm_party, predict_glm_party

__all__ = ["Fit", "diabetes", "fit_and_predict", "insurance", "randhie", "split"]

_GROUPS = {"Group": ["<1l", "1-1.5l", "1.5-2l", ">2l"], "Age": ["<25", "25-29", "30-35", ">35"]}


def diabetes() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """scikit-learn's diabetes table, raw (unscaled): disease progression, 25..346."""
    from sklearn.datasets import load_diabetes

    bunch = load_diabetes(scaled=False)
    return bunch.data, bunch.target.astype(np.float64), [str(c) for c in bunch.feature_names]


def randhie() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """RAND HIE: outpatient visits to a doctor (a count, 63 % zeros... up to 77), nine columns."""
    df = pd.read_csv(DATA / "randhie.csv.gz")
    y = df.pop("mdvis").to_numpy(dtype=np.float64)
    return df.to_numpy(dtype=np.float64), y, [str(c) for c in df.columns]


def insurance() -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """MASS Insurance: claims per cell of (District, car Group, Age) with the policy holders
    as the exposure; the ordered categories coded 0..3. Returns (x, claims, holders, names)."""
    df = pd.read_csv(DATA / "insurance.csv.gz")
    for col, levels in _GROUPS.items():
        df[col] = df[col].map({v: i for i, v in enumerate(levels)}).astype(np.float64)
    x = df[["District", "Group", "Age"]].to_numpy(dtype=np.float64)
    return (
        x,
        df["Claims"].to_numpy(np.float64),
        df["Holders"].to_numpy(np.float64),
        ["District", "Group", "Age"],
    )


def split(n: int, test: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    perm = np.random.default_rng(seed).permutation(n)
    k = round(n * test)
    return np.sort(perm[k:]), np.sort(perm[:k])


def with_offset(tables: list[PartyTable], offset: np.ndarray) -> list[PartyTable]:
    """The label holder (the first table) with ``offset`` as its offset column."""
    first = tables[0]
    held = PartyTable(
        first.name,
        first.ids,
        first.features,
        first.feature_names,
        label=first.label,
        label_name=first.label_name,
        offset=offset,
        offset_name="log_exposure",
    )
    return [held, *tables[1:]]


@dataclass
class Fit:
    models: dict[str, GLMPartyModel]
    train: np.ndarray  # the label holder's predictions on the training rows
    test: np.ndarray


def fit_and_predict(
    x: np.ndarray,
    y: np.ndarray,
    names: list[str],
    params: GLMParams,
    rows: tuple[np.ndarray, np.ndarray],
    offset: np.ndarray | None = None,
) -> Fit:
    """Three parties (the first holds the label, and the offset if any): fit on rows[0], score
    rows[0] and rows[1]."""
    tables = three_parties(x, y, names)
    if offset is not None:
        tables = with_offset(tables, offset)
    by = {t.name: t for t in tables}
    tr, te = rows
    models = run_parties(
        list(by), lambda ch: fit_glm_party(ch, by[ch.me].take(tr), active=PARTIES[0], params=params)
    )

    def score(r: np.ndarray) -> np.ndarray:
        if not len(r):  # no test rows (the exposure test fits and scores every row)
            return np.zeros(0)
        out = run_parties(list(by), lambda ch: predict_glm_party(ch, models[ch.me], by[ch.me].take(r)))
        return np.asarray(out[PARTIES[0]])

    return Fit(models, score(tr), score(te))
