"""Real public tables for the objective checks (tables/README.md says where each comes from), split
by columns into three parties, and the xgboost reference on the same rows, split and offset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from tests.protocols.secureboost.conftest import fit_predict, xgb_model
from vfl.data.datasets import fate_frames
from vfl.data.readers import NanPolicy, table_from_frame
from vfl.data.table import PartyTable
from vfl.runtime.evaluate.metrics import model_metrics
from vfl.runtime.models.sbt import SBTParams, SBTPartyModel

__all__ = ["PARTIES", "frame", "reference", "split", "three_parties"]

TABLES = Path(__file__).resolve().parent / "tables"
PARTIES = ("insurer", "hospital", "pharma")  # the first holds the label (and any offset)


def frame(name: str) -> tuple[pd.DataFrame, str]:
    """(the table with an ``id`` column first, its label column)."""
    if name == "diabetes":
        from sklearn.datasets import load_diabetes

        df = load_diabetes(as_frame=True).frame
        label = "target"
    elif name == "vehicle_scale":
        guest, host = fate_frames(name)
        df = guest.merge(host, on="id").drop(columns=["id"])
        label = "y"
    else:
        df = pd.read_csv(TABLES / f"{name}.csv.gz")
        label = {"randhie": "mdvis", "doctor_visits": "visits", "insurance": "Claims"}[name]
    df = df.reset_index(drop=True)
    df.insert(0, "id", [f"r{i:05d}" for i in range(len(df))])
    return df, label


def three_parties(
    df: pd.DataFrame, label: str, offset: str | None = None, nan_policy: NanPolicy = "error"
) -> dict[str, PartyTable]:
    """Feature columns in three contiguous groups, one per party; text columns are encoded by the
    reader (each party's own category map); the label and offset stay with the first party."""
    cols = [c for c in df.columns if c not in ("id", label, offset)]
    groups = np.array_split(np.arange(len(cols)), len(PARTIES))
    out = {}
    for i, (name, g) in enumerate(zip(PARTIES, groups, strict=True)):
        own = ["id", *(cols[j] for j in g)] + ([label] + ([offset] if offset else []) if i == 0 else [])
        out[name] = table_from_frame(
            df[own],
            name=name,
            label_column=label if i == 0 else None,
            offset_column=offset if i == 0 else None,
            source=name,
            nan_policy=nan_policy,
        )
    return out


def split(n: int, rows: int | None = None, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """An 80/20 split of ``rows`` rows drawn from n (all rows by default), sorted."""
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(n, rows, replace=False)) if rows else np.arange(n)
    perm = rng.permutation(idx)
    k = len(idx) // 5
    return np.sort(perm[k:]), np.sort(perm[:k])


def reference(
    tables: dict[str, PartyTable], params: SBTParams, tr: np.ndarray, te: np.ndarray
) -> tuple[dict[str, SBTPartyModel], dict[str, float], dict[str, float]]:
    """SecureBoost on the parties and xgboost on the pooled columns, same rows and offset:
    (the parts, SecureBoost's test metrics, xgboost's test metrics)."""
    holder = tables[PARTIES[0]]
    y = holder.label
    assert y is not None
    models, pred = fit_predict(tables, PARTIES[0], params, tr, te)
    x = np.hstack([tables[n].features for n in PARTIES])
    off = holder.offset
    est = xgb_model(params, y[tr])
    est.fit(x[tr], y[tr], base_margin=None if off is None else off[tr])
    kw = {} if off is None else {"base_margin": off[te]}
    multi = params.objective.startswith("multi:")
    ref = est.predict_proba(x[te], **kw) if multi else est.predict(x[te], **kw)
    return models, model_metrics(params, y[te], pred), model_metrics(params, y[te], ref)
