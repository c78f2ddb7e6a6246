"""Data sets shipped with vfl: the embedded three-party default, FATE's public vertical splits (the
tests' and benchmarks' data, so a fresh clone needs nothing beside it), and synthetic data."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["FATE_DATASETS", "DatasetSpec", "default_dataset", "fate_frames", "fate_pair"]

#: FATE's public vertical splits shipped in ``fate/`` (guest + host files each).
FATE_DATASETS = ("breast", "default_credit", "student", "vehicle_scale")


@dataclass(frozen=True)
class DatasetSpec:
    """Where each party's file is, and which columns mean what."""

    paths: dict[str, Path]
    id_column: str
    label: tuple[str, str]  # (party, column)
    description: str

    @property
    def parties(self) -> list[str]:
        return list(self.paths)


def default_dataset() -> DatasetSpec:
    """The embedded default: default_credit re-split into insurer (label), hospital and pharma."""
    root = Path(str(resources.files("vfl.data.datasets").joinpath("default")))
    return DatasetSpec(
        paths={name: root / f"{name}.csv.gz" for name in ("insurer", "hospital", "pharma")},
        id_column="patient_id",
        label=("insurer", "outcome"),
        description="default_credit (UCI, via FATE) re-split into three parties with partial overlap",
    )


def fate_pair(name: str) -> tuple[Path, Path]:
    """(guest, host) paths of one of FATE's public splits shipped with vfl (``fate/README.md``)."""
    if name not in FATE_DATASETS:
        raise ValueError(f"unknown FATE data set {name!r}; choose one of {', '.join(FATE_DATASETS)}")
    root = Path(str(resources.files("vfl.data.datasets").joinpath("fate")))
    return root / f"{name}_hetero_guest.csv.gz", root / f"{name}_hetero_host.csv.gz"


def fate_frames(name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(guest, host) frames of a FATE split, each with its ``id`` column, in the files' order."""
    import pandas as pd

    guest, host = fate_pair(name)
    return pd.read_csv(guest), pd.read_csv(host)
