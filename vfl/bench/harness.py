"""The benchmarks' (and tests') harness: FATE-style split files aligned by a pandas join (their
ids are shared, so no PSI is needed), a stratified holdout, and parties as threads."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vfl.core.errors import DataError
from vfl.core.jobs import new_job_id
from vfl.data.datasets import fate_pair
from vfl.data.table import PartyTable
from vfl.runtime.modes.local import run_in_memory
from vfl.transport.channel import Channel

__all__ = ["default_data", "load_aligned", "run_parties", "stratified_split"]

LABEL = "y"
ID = "id"


def default_data() -> dict[str, Path]:
    """default_credit guest (label) + host: FATE's split, shipped inside the package."""
    guest, host = fate_pair("default_credit")
    return {"guest": guest, "host": host}


def load_aligned(data: dict[str, Path]) -> tuple[list[PartyTable], str]:
    """Read each party's CSV, keep the ids every file holds (in the label file's order), and
    return the tables in that shared order plus the name of the party holding label ``y``."""
    frames = {}
    for name, path in data.items():
        if not Path(path).is_file():
            raise DataError(f"{name}'s data file {path} does not exist", "pass --data NAME=PATH")
        df = pd.read_csv(path)
        if ID not in df.columns:
            raise DataError(f"{path} has no '{ID}' column", "the FATE files carry an 'id' column")
        frames[name] = df.set_index(df[ID].astype(str)).drop(columns=[ID])
        if not frames[name].index.is_unique:
            raise DataError(f"{path} repeats some ids", "remove duplicate rows first")
    holders = [n for n, df in frames.items() if LABEL in df.columns]
    if len(holders) != 1:
        raise DataError(f"{len(holders)} files hold a '{LABEL}' column", "exactly one party holds y")
    shared = set.intersection(*(set(df.index) for df in frames.values()))
    common = [i for i in frames[holders[0]].index if i in shared]  # the label file's order
    if not common:
        raise DataError("the files share no ids", "check that they describe the same people")
    tables = []
    for name, df in frames.items():
        df = df.loc[common]
        label = df.pop(LABEL).to_numpy(dtype=np.float64) if name == holders[0] else None
        tables.append(
            PartyTable(
                name=name,
                ids=np.asarray(common, dtype=object),
                features=df.to_numpy(dtype=np.float64),
                feature_names=[str(c) for c in df.columns],
                label=label,
                label_name=LABEL if label is not None else None,
                source=str(data[name]),
            )
        )
    return tables, holders[0]


def stratified_split(y: np.ndarray, test_size: float = 0.2, seed: int = 42) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split

    tr, te = train_test_split(np.arange(len(y)), test_size=test_size, stratify=y, random_state=seed)
    return np.sort(tr), np.sort(te)


def run_parties(names: list[str], fn: Callable[[Channel], Any], job_id: str | None = None) -> dict[str, Any]:
    """Run ``fn(channel)`` for every party in its own thread over one in-memory hub."""
    return run_in_memory(names, job_id or new_job_id(), lambda _name, channel: fn(channel))
