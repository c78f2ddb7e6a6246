from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from vfl.data.datasets import default_dataset
from vfl.data.readers import read_party_table
from vfl.data.synth import synth_ids, write_synthetic


def test_embedded_default_is_three_partially_overlapping_parties() -> None:
    ds = default_dataset()
    assert ds.parties == ["insurer", "hospital", "pharma"]
    tables = {
        n: read_party_table(
            p, name=n, id_column=ds.id_column, label_column=ds.label[1] if n == ds.label[0] else None
        )
        for n, p in ds.paths.items()
    }
    ids = {n: set(t.ids) for n, t in tables.items()}
    shared = set.intersection(*ids.values())
    for n, s in ids.items():
        assert 20_000 < len(s) < 30_000 and len(s - shared) > 1000, n  # each misses some people
    assert 20_000 < len(shared) < 26_000
    assert tables["insurer"].has_label and set(np.unique(tables["insurer"].label)) == {0.0, 1.0}
    assert sum(t.n_features for t in tables.values()) == 23
    # shuffled: the parties' row orders differ
    assert list(tables["insurer"].ids[:50]) != list(tables["hospital"].ids[:50])


def test_synth_overlap_is_exact() -> None:
    ids = synth_ids(1000, 3, 0.8, seed=1)
    assert all(len(x) == 1000 for x in ids)
    assert len(set(ids[0]) & set(ids[1]) & set(ids[2])) == 800
    assert len(set(ids[0]) & set(ids[1])) == 800  # the rest is each party's own


def test_write_synthetic_parquet(tmp_path: Path) -> None:
    paths = write_synthetic(tmp_path, rows=200, parties=2, overlap=0.5, features=3, fmt="parquet")
    df = pd.read_parquet(paths["party0"])
    assert list(df.columns[:2]) == ["id", "y"] and len(df) == 200
    assert "y" not in pd.read_parquet(paths["party1"]).columns
