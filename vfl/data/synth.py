"""Synthetic vertical data of any size, for scale benchmarks: N parties, a chosen overlap, a
label at the first party drawn from a logistic model over every party's features (so training
across parties measurably beats training alone)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from vfl.core.errors import ConfigError
from vfl.data.readers import require_parquet

__all__ = ["synth_ids", "synth_members", "write_synthetic"]


def synth_members(rows: int, parties: int, overlap: float, seed: int = 0) -> tuple[int, list[np.ndarray]]:
    """Each party gets ``rows`` people; a fraction ``overlap`` of them is shared by all parties and
    the rest is its own. Returns (universe size, each party's member indices in shuffled order)."""
    if not 0.0 <= overlap <= 1.0:
        raise ConfigError(f"overlap must be within [0, 1], got {overlap}", "e.g. --overlap 0.8")
    if rows < 1 or parties < 2:
        raise ConfigError("need at least one row and two parties", "e.g. --rows 1000 --parties 3")
    rng = np.random.default_rng(seed)
    shared = round(rows * overlap)
    own = rows - shared
    universe = np.arange(shared + own * parties)
    out = []
    for p in range(parties):
        mine = np.concatenate([universe[:shared], universe[shared + p * own : shared + (p + 1) * own]])
        rng.shuffle(mine)
        out.append(mine)
    return len(universe), out


def id_text(members: np.ndarray) -> np.ndarray:
    return np.char.add("S", members.astype(str)).astype(object)


def synth_ids(rows: int, parties: int, overlap: float, seed: int = 0) -> list[np.ndarray]:
    """Just the ID lists (as text), e.g. for PSI benchmarks."""
    return [id_text(m) for m in synth_members(rows, parties, overlap, seed)[1]]


def write_synthetic(
    out_dir: str | Path,
    *,
    rows: int,
    parties: int = 3,
    overlap: float = 0.8,
    features: int = 8,
    fmt: str = "csv",
    seed: int = 0,
) -> dict[str, Path]:
    """Write party0..party{N-1} files (party0 holds the label ``y``); returns their paths."""
    rng = np.random.default_rng(seed)
    n_universe, members = synth_members(rows, parties, overlap, seed)
    names = [f"party{p}" for p in range(parties)]
    weights = rng.normal(size=(parties, features))
    x_all = rng.normal(size=(n_universe, parties, features)).astype(np.float32)
    logits = np.einsum("npf,pf->n", x_all, weights) / np.sqrt(parties * features)
    y_all = (rng.random(n_universe) < 1 / (1 + np.exp(-2.0 * logits))).astype(np.int8)
    out = Path(out_dir)
    if fmt == "parquet":
        require_parquet(f"vfl data synth --format parquet --out {out}")
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for p, name in enumerate(names):
        idx = members[p]
        df = pd.DataFrame(x_all[idx, p, :], columns=[f"{name}_f{j}" for j in range(features)])
        df.insert(0, "id", id_text(idx))
        if p == 0:
            df.insert(1, "y", y_all[idx])
        path = out / f"{name}.{'parquet' if fmt == 'parquet' else 'csv'}"
        (
            df.to_parquet(path, index=False)
            if fmt == "parquet"
            else df.to_csv(path, index=False, float_format="%.5f")
        )
        paths[name] = path
    return paths
