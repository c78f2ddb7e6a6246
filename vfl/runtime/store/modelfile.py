"""Model files: each party's own part, wrapped with the fingerprints of every part of the model.

``model.json`` = {"format", "job_id", "party", "part", "part_sha256", "parts": {party: sha256}}.
The SHA-256 is over the part's canonical JSON; the parties exchange them right after training.
Loading refuses a file that is not JSON (truncated), whose part does not match its own hash
(edited or corrupted), or whose part set disagrees with its peers' (mismatched parts).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vfl.core.errors import DataError, VflError
from vfl.runtime.models.registry import MODELS
from vfl.runtime.store.atomic import write_json_atomic

__all__ = ["ModelFile", "load_model_file", "part_sha256", "write_model_file"]

FORMAT = "vfl.model-file/v1"


def part_sha256(part_dict: dict[str, Any]) -> str:
    body = {k: v for k, v in part_dict.items() if k != "fit_stats"}  # timings are not the model
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@dataclass(frozen=True)
class ModelFile:
    party: str
    job_id: str
    kind: str  # "lr" | "sbt"
    part: Any
    parts: dict[str, str]

    @property
    def sha256(self) -> str:
        return self.parts[self.party]


def _kind_of(part_dict: dict[str, Any]) -> str:
    fmt = str(part_dict.get("format", ""))
    for name in MODELS:
        if fmt.startswith(f"vfl.{name}."):
            return name
    raise DataError(f"unknown model part format {fmt!r}", "point at a model folder written by vfl")


def write_model_file(path: Path, part: Any, parts: dict[str, str]) -> Path:
    d = part.to_dict()
    return write_json_atomic(
        path,
        {
            "format": FORMAT,
            "job_id": d["job_id"],
            "party": d["party"],
            "part_sha256": part_sha256(d),
            "parts": dict(parts),
            "part": d,
        },
    )


def load_model_file(path: str | Path) -> ModelFile:
    p = Path(path)
    if not p.is_file():
        raise DataError(
            f"no model file at {p}", "point at the folder a training run wrote (OUT/NAME/model.json)"
        )
    try:
        doc = json.loads(p.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise DataError(
            f"{p} is not a complete model file ({exc.__class__.__name__}: {exc})",
            "it is truncated or corrupted: restore it from the training run's output",
        ) from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise DataError(f"{p} is not a vfl model file", "point at OUT/NAME/model.json of a training run")
    try:  # a file of the right format but the wrong shapes inside: refused, never a TypeError
        return _from_doc(doc, p)
    except VflError:  # the loader's own message (DataError is a ValueError too)
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise DataError(
            f"{p} has an unexpected layout ({exc.__class__.__name__}: {exc})",
            "it was edited or corrupted: restore it from the training run's output",
        ) from exc


def _from_doc(doc: dict[str, Any], p: Path) -> ModelFile:
    part_dict = doc.get("part")
    if not isinstance(part_dict, dict) or part_sha256(part_dict) != doc.get("part_sha256"):
        raise DataError(
            f"{p}: the model part does not match its fingerprint",
            "the file was edited or corrupted: restore it from the training run's output",
        )
    parts = doc.get("parts") or {}
    if parts.get(doc.get("party")) != doc["part_sha256"]:
        raise DataError(f"{p}: the part is not the one the federation agreed on", "restore the original file")
    kind = _kind_of(part_dict)
    part = MODELS[kind].part_type.from_dict(part_dict)
    return ModelFile(
        party=str(doc["party"]), job_id=str(doc["job_id"]), kind=kind, part=part, parts=dict(parts)
    )
