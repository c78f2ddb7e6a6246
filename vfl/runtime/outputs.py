"""A party's own output files, always written atomically and only after its job succeeded."""

from __future__ import annotations

from pathlib import Path

from vfl.runtime.atomic import write_bytes_atomic, write_json_atomic
from vfl.runtime.job import PartyOutcome

__all__ = ["write_party_outputs"]


def write_party_outputs(out: Path, outcome: PartyOutcome) -> None:
    """``out/NAME/``: aligned IDs, the party's model part, and what it reports about itself."""
    d = out / outcome.name
    ids = "\n".join(["id", *map(str, outcome.aligned_ids)]) + "\n"
    write_bytes_atomic(d / "aligned_ids.csv", ids.encode())
    if outcome.model is not None:
        write_json_atomic(d / "model.json", outcome.model.to_dict())
    write_json_atomic(d / "result.json", outcome.to_dict())
