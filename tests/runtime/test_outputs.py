"""A party's outputs: one atomic set, CSVs that quote, ID files never world-readable (issue 19)."""

from __future__ import annotations

import io
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from vfl.core.errors import DataError
from vfl.runtime.job.run import PartyOutcome
from vfl.runtime.modes.outputs import read_aligned_ids, write_party_outputs
from vfl.runtime.store.atomic import (
    PRIVATE,
    atomic_folder,
    write_atomic,
    write_bytes_atomic,
    write_json_atomic,
)

AWKWARD_IDS = np.array(["a,b", 'say "hi"', "P 1", " lead", "trail ", "plain", "x;y", "ünï"], dtype=object)


class _Part:
    """Stands in for a model part: what write_model_file needs, and a way to fail."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail

    def to_dict(self) -> dict[str, Any]:
        if self.fail:
            raise ValueError("cannot serialise this part")
        return {"format": "vfl.lr.part/v1", "job_id": "j1", "party": "insurer", "weights": [0.5]}


def _outcome(ids: np.ndarray = AWKWARD_IDS, **kw: Any) -> PartyOutcome:
    return PartyOutcome("insurer", ids, len(ids), {"psi": 0.0}, 0, 0, **kw)


@pytest.fixture
def umask() -> Iterator[Any]:
    """Set the process umask for one test, and put the old one back."""
    old = os.umask(0o022)
    try:
        yield os.umask
    finally:
        os.umask(old)


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_ids_with_commas_quotes_and_spaces_read_back_as_written(tmp_path: Path) -> None:
    d = write_party_outputs(tmp_path, _outcome(scores=np.linspace(0, 1, len(AWKWARD_IDS))))
    assert list(read_aligned_ids(d / "aligned_ids.csv")) == list(AWKWARD_IDS)
    pred = pd.read_csv(d / "predictions.csv", dtype={"id": str}, keep_default_na=False)
    assert list(pred["id"]) == list(AWKWARD_IDS) and pred["score"].iloc[-1] == 1.0
    assert '"a,b"' in (d / "aligned_ids.csv").read_text()


def test_multiclass_predictions_get_one_column_per_class(tmp_path: Path) -> None:
    scores = np.array([[0.2, 0.8], [0.6, 0.4]])
    d = write_party_outputs(tmp_path, _outcome(np.array(["a", "b"], dtype=object), scores=scores))
    pred = pd.read_csv(d / "predictions.csv")
    assert list(pred.columns) == ["id", "score_0", "score_1"]
    np.testing.assert_array_equal(pred[["score_0", "score_1"]].to_numpy(), scores)


@pytest.mark.parametrize(
    ("mask", "ids_mode", "other_mode"), [(0o022, 0o640, 0o644), (0o077, 0o600, 0o600), (0, 0o660, 0o666)]
)
def test_file_modes_follow_the_umask_and_id_files_are_never_world_readable(
    tmp_path: Path, umask: Any, mask: int, ids_mode: int, other_mode: int
) -> None:
    umask(mask)
    d = write_party_outputs(tmp_path, _outcome(model=_Part(), scores=np.zeros(len(AWKWARD_IDS))))
    assert _mode(d / "aligned_ids.csv") == ids_mode and _mode(d / "predictions.csv") == ids_mode
    assert _mode(d / "result.json") == other_mode and _mode(d / "model.json") == other_mode
    assert _mode(d) == 0o777 & ~mask


def test_a_failure_leaves_the_previous_outputs_untouched(tmp_path: Path) -> None:
    d = write_party_outputs(tmp_path, _outcome(model=_Part()))
    before = {p.name: p.read_bytes() for p in d.iterdir()}
    with pytest.raises(ValueError, match="cannot serialise"):
        write_party_outputs(tmp_path, _outcome(np.array(["z"], dtype=object), model=_Part(fail=True)))
    assert {p.name: p.read_bytes() for p in d.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["insurer"]  # no staging folder left


def test_a_failed_first_run_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_party_outputs(tmp_path / "out", _outcome(model=_Part(fail=True)))
    assert list((tmp_path / "out").iterdir()) == []


def test_the_new_set_replaces_its_files_and_keeps_others(tmp_path: Path) -> None:
    d = write_party_outputs(tmp_path, _outcome(model=_Part()))
    (d / "notes.txt").write_text("mine")
    (d / "sub").mkdir()
    (d / "sub" / "x").write_text("deep")
    write_party_outputs(tmp_path, _outcome(np.array(["q"], dtype=object), scores=np.array([0.5])))
    assert list(read_aligned_ids(d / "aligned_ids.csv")) == ["q"]
    assert json.loads((d / "result.json").read_text())["intersection"] == 1
    assert (d / "notes.txt").read_text() == "mine" and (d / "sub" / "x").read_text() == "deep"
    assert (d / "model.json").is_file()  # a predict run beside the training outputs keeps the model


def test_atomic_folder_removes_its_staging_on_error(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), atomic_folder(tmp_path / "t") as d:
        (d / "half").write_text("x")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_write_atomic_takes_a_writer_and_keeps_the_old_file_on_error(tmp_path: Path) -> None:
    p = write_bytes_atomic(tmp_path / "plot.png", b"old")

    def broken(f: io.BufferedWriter) -> None:
        f.write(b"partial")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomic(p, broken)
    assert p.read_bytes() == b"old" and [x.name for x in tmp_path.iterdir()] == ["plot.png"]
    write_atomic(p, lambda f: f.write(b"new"), PRIVATE)
    assert p.read_bytes() == b"new"


def test_read_aligned_ids_refuses_other_files(tmp_path: Path) -> None:
    p = tmp_path / "aligned_ids.csv"
    p.write_text("pid,x\na,1\n")
    with pytest.raises(DataError, match=r"not an aligned_ids\.csv"):
        read_aligned_ids(p)
    p.write_text("id\n")
    assert read_aligned_ids(p).shape == (0,)


def test_strict_json_refuses_infinity_and_keeps_the_old_file(tmp_path: Path) -> None:
    p = write_json_atomic(tmp_path / "model.json", {"scale": [1.0]})
    with pytest.raises(ValueError, match="not JSON compliant"):
        write_json_atomic(p, {"scale": [1.0, float("inf")]}, allow_nan=False)
    assert json.loads(p.read_text()) == {"scale": [1.0]} and len(list(tmp_path.iterdir())) == 1
