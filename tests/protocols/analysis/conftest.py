"""Shared helpers for the analysis tests: real tables split by columns into parties, every party
as a thread over the memory transport, and the plaintext reference on the pooled rows."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vfl.compute.woe import FeatureBins, woe_iv_plain
from vfl.crypto.he import HEScheme, make_scheme, scheme_from_public_context
from vfl.data.datasets import default_dataset, fate_frames
from vfl.protocols.analysis import AnalysisConfig, analyse_active, analyse_passive
from vfl.runtime.modes.local import run_in_memory
from vfl.transport.recording import RecordedMessage

TABLES_DIR = Path(__file__).resolve().parents[2] / "data" / "tables"
JOB = "job-analysis-test"


@dataclass
class Table:
    X: np.ndarray
    y: np.ndarray
    names: list[str]


def load_table(name: str, rows: int | None = None) -> Table:
    """A real table, raw as published: scikit-learn's breast_cancer, gbsg2 (tests/data/tables),
    FATE's default_credit, or the embedded default (its three parties joined on the ID)."""
    if name == "breast_cancer":
        from sklearn.datasets import load_breast_cancer

        b = load_breast_cancer()
        X, y, names = b.data, b.target.astype(np.float64), [str(c) for c in b.feature_names]
    elif name == "gbsg2":
        df = pd.read_csv(TABLES_DIR / "gbsg2.csv.gz")
        y = df.pop("cens").to_numpy(np.float64)
        X, names = df.to_numpy(np.float64), list(df.columns)
    elif name == "default_credit":
        guest, host = fate_frames(name)
        df = guest.merge(host.rename(columns=lambda c: c if c == "id" else f"h_{c}"), on="id")
        y = df.pop("y").to_numpy(np.float64)
        df = df.drop(columns="id")
        X, names = df.to_numpy(np.float64), list(df.columns)
    elif name == "default":
        ds = default_dataset()
        frames = [pd.read_csv(p) for p in ds.paths.values()]
        df = frames[0]
        for f in frames[1:]:
            df = df.merge(f, on=ds.id_column)
        y = df.pop(ds.label[1]).to_numpy(np.float64)
        df = df.drop(columns=ds.id_column)
        X, names = df.to_numpy(np.float64), list(df.columns)
    else:
        raise ValueError(name)
    if rows is not None and rows < len(y):
        keep = np.sort(np.random.default_rng(7).choice(len(y), rows, replace=False))
        X, y = X[keep], y[keep]
    return Table(np.asarray(X, dtype=np.float64), y, names)


def split(t: Table, parties: tuple[str, ...]) -> dict[str, tuple[np.ndarray, list[str]]]:
    """Columns in contiguous groups, one per party (the first is the label holder)."""
    groups = np.array_split(np.arange(t.X.shape[1]), len(parties))
    return {p: (t.X[:, g], [t.names[i] for i in g]) for p, g in zip(parties, groups, strict=True)}


@dataclass
class Run:
    active: Any
    passives: dict[str, Any]
    parts: dict[str, tuple[np.ndarray, list[str]]]
    y: np.ndarray
    scheme: HEScheme
    log: list[RecordedMessage]


def run(
    t: Table,
    he: str,
    parties: tuple[str, ...] = ("insurer", "hospital", "pharma"),
    cfg: AnalysisConfig | None = None,
    shares: dict[str, str] | None = None,
) -> Run:
    """The protocol (no PSI: rows already aligned) with every message recorded."""
    cfg = cfg or AnalysisConfig()
    parts = split(t, parties)
    scheme = make_scheme(he)
    log: list[RecordedMessage] = []
    active = parties[0]

    def work(name: str, channel: Any) -> Any:
        X, names = parts[name]
        if name == active:
            return analyse_active(channel, X, names, t.y, scheme=scheme, cfg=cfg, passives=list(parties[1:]))
        return analyse_passive(
            channel,
            X,
            names,
            active=active,
            open_scheme=scheme_from_public_context,
            share=(shares or {}).get(name, "counts"),
        )

    res = run_in_memory(list(parties), JOB, work, record=log)
    return Run(res[active], {p: res[p] for p in parties[1:]}, parts, t.y, scheme, log)


def woe_errors(r: Run) -> tuple[float, int]:
    """Largest |federated - plaintext| over every WOE and IV, on the pooled rows with the same
    bins (a passive's own bins, the active's from its output); and how many features compared."""
    err, count = 0.0, 0
    by_party: dict[str, list[dict[str, Any]]] = {}
    for f in r.active.features:
        by_party.setdefault(f["party"], []).append(f)
    for party, feats in by_party.items():
        X, _names = r.parts[party]
        for i, f in enumerate(feats):
            fb = (
                r.passives[party].bins[i]
                if party in r.passives
                else FeatureBins(np.asarray(f["edges"]), f["missing_bin"])
            )
            ref = woe_iv_plain(X[:, i], r.y, fb)
            assert len(ref.woe) == len(f["woe"])
            for a, b in zip(ref.woe, f["woe"], strict=True):
                assert (a is None) == (b is None)
                if a is not None:
                    err = max(err, abs(a - b))
            err = max(err, abs(ref.iv - f["iv"]))
            count += 1
    return err, count


def correlation_errors(r: Run) -> tuple[float, int]:
    """Largest |r - numpy's corrcoef| over every cross-party pair, and the pair count."""
    cols = {(p, n): X[:, i] for p, (X, names) in r.parts.items() for i, n in enumerate(names)}
    err = 0.0
    for c in r.active.correlation:
        a, b = cols[(c["a"]["party"], c["a"]["name"])], cols[(c["b"]["party"], c["b"]["name"])]
        err = max(err, abs(float(np.corrcoef(a, b)[0, 1]) - c["r"]))
    return err, len(r.active.correlation)
