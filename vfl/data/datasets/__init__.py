"""Data sets shipped with vfl: the embedded three-party default, and synthetic data of any size."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

__all__ = ["DatasetSpec", "default_dataset"]


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
