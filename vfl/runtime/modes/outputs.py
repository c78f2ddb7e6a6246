"""A party's own output files, written only after its job succeeded and as one set: they are built
in a staging folder beside ``OUT/NAME/`` and renamed over it at the end, so a failure (a model
that cannot be serialised, a full disk) leaves the previous outputs, or nothing.

CSVs go through the csv module (an ID holding a comma or a quote is quoted, and reads back as
itself); files that list patient IDs are never world-readable (:data:`PRIVATE`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from vfl.core.errors import DataError
from vfl.runtime.job.run import PartyOutcome
from vfl.runtime.store.atomic import PRIVATE, atomic_folder, write_bytes_atomic, write_json_atomic
from vfl.runtime.store.modelfile import write_model_file

__all__ = ["ID_FILES", "read_aligned_ids", "write_csv", "write_party_outputs"]

#: the outputs that name people: owner (and group, as the umask allows) only
ID_FILES = ("aligned_ids.csv", "predictions.csv")


def write_csv(
    path: Path, header: Sequence[str], rows: Iterable[Sequence[object]], mode: int = PRIVATE
) -> Path:
    """One CSV, atomically, quoted as the csv module does (RFC 4180 minimal quoting, '\\n' lines)."""
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return write_bytes_atomic(path, buf.getvalue().encode("utf-8"), mode)


def _score_rows(ids: np.ndarray, scores: np.ndarray) -> tuple[list[str], list[list[object]]]:
    """One score column, or one per class (score_0, score_1, ...) for a multi-class model."""
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim == 1:
        return ["id", "score"], [[i, repr(float(v))] for i, v in zip(ids, s, strict=True)]
    header = ["id", *(f"score_{k}" for k in range(s.shape[1]))]
    return header, [[i, *(repr(float(v)) for v in row)] for i, row in zip(ids, s, strict=True)]


def write_party_outputs(out: Path, outcome: PartyOutcome) -> Path:
    """``out/NAME/``: aligned IDs, the party's model part, predictions (at the label holder of a
    predict job), and what it reports about itself; returns the folder."""
    target = Path(out) / outcome.name
    with atomic_folder(target) as d:
        write_csv(d / "aligned_ids.csv", ["id"], ([str(i)] for i in outcome.aligned_ids))
        if outcome.model is not None:
            write_model_file(d / "model.json", outcome.model, outcome.parts)
        if outcome.scores is not None:
            header, rows = _score_rows(outcome.aligned_ids, outcome.scores)
            write_csv(d / "predictions.csv", header, rows)
        write_json_atomic(d / "result.json", outcome.to_dict())
    return target


def read_aligned_ids(path: Path) -> np.ndarray:
    """The IDs a party wrote to ``aligned_ids.csv``, in the agreed order (any text, as written)."""
    with Path(path).open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if not rows or rows[0] != ["id"] or any(len(r) != 1 for r in rows[1:]):
        raise DataError(f"{path}: not an aligned_ids.csv written by vfl", "run the alignment again")
    return np.array([r[0] for r in rows[1:]], dtype=object)
