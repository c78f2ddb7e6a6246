"""What a simulation or a party run needs to know, parsed from CLI options or a job file."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vfl.compute.backend import check_device
from vfl.core.errors import ConfigError
from vfl.core.parties import check_party_names
from vfl.data.datasets import default_dataset
from vfl.data.ids import IdRule
from vfl.data.readers import NanPolicy
from vfl.runtime.models.registry import NO_MODEL, make_params, parse_param_value

__all__ = [
    "PartySource",
    "SimulationConfig",
    "build_simulation_config",
    "parse_data_options",
    "parse_label_option",
    "parse_param_options",
]


@dataclass(frozen=True)
class PartySource:
    name: str
    path: Path
    label_column: str | None = None
    offset_column: str | None = None  # label holder only: per-row offsets (log(exposure))


@dataclass
class SimulationConfig:
    parties: list[PartySource]
    id_column: str = "id"
    model: str = "none"
    he: str = "ckks"
    device: str = "cpu"  # every simulated party computes here (party-local: never sent)
    executor: str = "local"  # where every simulated party's heavy per-row work runs (never sent)
    transport: str = "memory"
    test_size: float = 0.2
    seed: int = 42
    out_dir: Path = Path("out")
    nan_policy: NanPolicy = "error"
    id_rule: IdRule = field(default_factory=IdRule)
    model_params: dict[str, Any] = field(default_factory=dict)
    dataset_note: str = ""

    def __post_init__(self) -> None:
        check_party_names([p.name for p in self.parties])
        labelled = [p.name for p in self.parties if p.label_column]
        if self.model != NO_MODEL and len(labelled) != 1:
            raise ConfigError(
                f"training needs exactly one party holding the label, got {labelled or 'none'}",
                "name it with --label NAME:COLUMN",
            )
        if self.model not in ("sbt", "glm", NO_MODEL) and any(p.offset_column for p in self.parties):
            raise ConfigError(
                f"--offset is not used by --model {self.model}",
                "use --model sbt or glm (an offset is added to the margin), or leave --offset out",
            )
        check_device(self.device, "--device")
        if self.executor != "local" and self.transport != "memory":
            raise ConfigError(
                f"--executor {self.executor} runs the in-memory simulation's parties on it",
                "use --transport memory, or give each party's config a [compute] section",
            )
        if not 0.0 <= self.test_size < 1.0:
            raise ConfigError(f"--test-size must be in [0, 1), got {self.test_size}", "e.g. --test-size 0.2")
        if self.model != NO_MODEL:  # bad --param values stop here, before any party starts
            make_params(self.model, self.he, self.seed, self.model_params)

    @property
    def active(self) -> str | None:
        return next((p.name for p in self.parties if p.label_column), None)


def parse_data_options(data: tuple[str, ...]) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for item in data:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise ConfigError(f"--data {item!r} is not NAME=PATH", "e.g. --data insurer=claims.csv")
        if name in out:
            raise ConfigError(f"--data names party {name!r} twice", "give each party one file")
        out[name] = Path(path)
    return out


def parse_label_option(label: str | None, option: str = "--label") -> tuple[str, str] | None:
    if label is None:
        return None
    name, sep, col = label.partition(":")
    if not sep or not name or not col:
        example = "insurer:log_exposure" if option == "--offset" else "insurer:outcome"
        raise ConfigError(f"{option} {label!r} is not NAME:COLUMN", f"e.g. {option} {example}")
    return name, col


def build_simulation_config(
    data: tuple[str, ...], id_column: str | None, label: str | None, offset: str | None = None, **kw: Any
) -> SimulationConfig:
    """From CLI options; no --data means the embedded default dataset. ``offset``
    (``--offset NAME:COL``): the label holder's column of per-row offsets (log(exposure))."""
    off = parse_label_option(offset, "--offset")
    if not data:
        ds = default_dataset()
        party, column = parse_label_option(label) or ds.label
        _check_offset_party(off, party)
        parties = [
            PartySource(n, p, column if n == party else None, off[1] if off and n == party else None)
            for n, p in ds.paths.items()
        ]
        return SimulationConfig(
            parties, id_column=id_column or ds.id_column, dataset_note=ds.description, **kw
        )
    paths = parse_data_options(data)
    lab = parse_label_option(label)
    if lab and lab[0] not in paths:
        raise ConfigError(f"--label names {lab[0]!r}, which has no --data", f"parties: {', '.join(paths)}")
    _check_offset_party(off, lab[0] if lab else None)
    parties = [
        PartySource(n, p, lab[1] if lab and n == lab[0] else None, off[1] if off and n == off[0] else None)
        for n, p in paths.items()
    ]
    return SimulationConfig(parties, id_column=id_column or "id", **kw)


def _check_offset_party(off: tuple[str, str] | None, label_party: str | None) -> None:
    if off and off[0] != label_party:
        raise ConfigError(
            f"--offset names {off[0]!r}, but the label is held by {label_party!r}",
            "the offset column belongs to the label holder (it never leaves that party)",
        )


def parse_param_options(items: tuple[str, ...]) -> dict[str, Any]:
    """``--param NAME=VALUE`` (repeatable; the estimators' parameter names) into a dict."""
    out: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ConfigError(f"--param {item!r} is not NAME=VALUE", "e.g. --param max_iter=200")
        if name in out:
            raise ConfigError(f"--param names {name!r} twice", "give each parameter once")
        out[name] = parse_param_value(value)
    return out
