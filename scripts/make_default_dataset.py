"""Build the embedded three-party default dataset from FATE's default_credit vertical split.

Reproducible (fixed seed). Run from the repo root: python scripts/make_default_dataset.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT.parent / "shared" / "data" / "fate"
OUT = ROOT / "vfl" / "data" / "datasets" / "default"
KEEP = 0.93  # each party independently holds 93% of the 30,000 people


def main() -> None:
    guest = pd.read_csv(SRC / "default_credit_hetero_guest.csv")
    host = pd.read_csv(SRC / "default_credit_hetero_host.csv").set_index("id").loc[guest["id"]].reset_index()
    ids = guest["id"].map(lambda i: f"PT-{int(i):06d}")
    parts = {
        "insurer": pd.concat(
            [
                ids.rename("patient_id"),
                guest["y"].astype(int).rename("outcome"),
                guest[[f"x{i}" for i in range(7)]].add_prefix("ins_"),
            ],
            axis=1,
        ),
        "hospital": pd.concat(
            [ids.rename("patient_id"), guest[[f"x{i}" for i in range(7, 13)]].add_prefix("hosp_")], axis=1
        ),
        "pharma": pd.concat(
            [ids.rename("patient_id"), host[[f"x{i}" for i in range(10)]].add_prefix("rx_")], axis=1
        ),
    }
    rng = np.random.default_rng(20261124)
    OUT.mkdir(parents=True, exist_ok=True)
    for name, df in parts.items():
        keep = rng.random(len(df)) < KEEP
        df = df[keep].sample(frac=1.0, random_state=int(rng.integers(1 << 31)))
        df.to_csv(
            OUT / f"{name}.csv.gz",
            index=False,
            float_format="%.6f",
            compression={"method": "gzip", "mtime": 0},
        )
        print(name, df.shape)


if __name__ == "__main__":
    main()
