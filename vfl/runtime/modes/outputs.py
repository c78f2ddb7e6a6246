"""A party's own output files, always written atomically and only after its job succeeded."""

from __future__ import annotations

from pathlib import Path

from vfl.runtime.store.atomic import write_bytes_atomic, write_json_atomic
from vfl.runtime.job.run import PartyOutcome
from vfl.runtime.store.modelfile import write_model_file

__all__ = ["write_party_outputs"]


def write_party_outputs(out: Path, outcome: PartyOutcome) -> None:
    """``out/NAME/``: aligned IDs, the party's model part, and what it reports about itself."""
    d = out / outcome.name
    ids = "\n".join(["id", *map(str, outcome.aligned_ids)]) + "\n"
    write_bytes_atomic(d / "aligned_ids.csv", ids.encode())
    if outcome.model is not None:
        write_model_file(d / "model.json", outcome.model, outcome.parts)
    if outcome.scores is not None:
        rows = zip(outcome.aligned_ids, outcome.scores.tolist(), strict=True)
        lines = ["id,score", *(f"{i},{s!r}" for i, s in rows)]
        write_bytes_atomic(d / "predictions.csv", ("\n".join(lines) + "\n").encode())
    write_json_atomic(d / "result.json", outcome.to_dict())
