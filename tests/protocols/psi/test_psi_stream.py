"""Streamed two-party PSI (lists on disk, bucket by bucket) gives the in-memory PSI's rows, in
the same order, at both parties, whichever side streams; its temporary folder is removed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vfl.core.errors import DataError
from vfl.executor.local import LocalExecutor
from vfl.protocols.psi import stream as stream_mod
from vfl.protocols.psi.session import run_psi
from vfl.protocols.psi.stream import id_batches, stream_pair_psi
from vfl.runtime.modes.local import run_in_memory
from vfl.transport.channel import Channel

from .conftest import run_all


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Messages of 300 points (receivers take any size up to 32,768): many batches per list."""
    monkeypatch.setattr(stream_mod, "BATCH", 300)


def _sets(rng: np.random.Generator) -> list[list[str]]:
    universe = np.array([f"ID-{i:05d}" for i in range(5000)] + ["é-ü", "Z", "a", "ab"], dtype=object)
    return [list(rng.choice(universe, size=n, replace=False)) for n in (2600, 2100)]


def _streamed(sets: list[list[str]], who: set[str], tmp: Path) -> dict[str, np.ndarray]:
    names = ["p0", "p1"]

    def work(name: str, ch: Channel) -> np.ndarray:
        ids = sets[names.index(name)]
        if name not in who:
            return run_psi(ch, ids, names).rows
        with LocalExecutor(2) as group:
            res = stream_pair_psi(ch, id_batches(ids, batch=97), group, workdir=tmp, bucket_rows=64)
        return np.asarray(res.rows)

    return run_in_memory(names, "job-test", work, timeout=60)


@pytest.mark.usefixtures("small_batches")
@pytest.mark.parametrize("who", [{"p0", "p1"}, {"p1"}])
def test_streamed_equals_in_memory(who: set[str], tmp_path: Path) -> None:
    sets = _sets(np.random.default_rng(7))
    plain = run_all(sets)
    streamed = _streamed(sets, who, tmp_path)
    for n in ("p0", "p1"):
        assert streamed[n].tolist() == plain[n].rows.tolist()
    assert [sets[0][r] for r in streamed["p0"]] == [sets[1][r] for r in streamed["p1"]]
    assert list(tmp_path.iterdir()) == []  # the private folder is gone


def test_run_psi_stream_option() -> None:
    sets = [["a", "b", "c", "d"], ["d", "c", "x"]]

    def work(name: str, ch: Channel) -> list[int]:
        return run_psi(ch, sets[int(name[1])], ["p0", "p1"], stream=True).rows.tolist()

    assert run_in_memory(["p0", "p1"], "job-test", work, timeout=60) == {"p0": [2, 3], "p1": [1, 0]}


def test_duplicates_stop_before_any_message(tmp_path: Path) -> None:
    def work(name: str, ch: Channel) -> None:
        with LocalExecutor(1) as group:
            stream_pair_psi(ch, id_batches(["a", "b", "a"], batch=2), group, workdir=tmp_path)

    with pytest.raises(DataError, match="more than once"):
        run_in_memory(["p0", "p1"], "job-test", work, timeout=20)
    assert list(tmp_path.iterdir()) == []


def test_streams_ids_from_a_folder_of_parquet_shards(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    import pandas as pd

    from vfl.data.readers import parquet_id_batches

    folder = tmp_path / "ids"
    folder.mkdir()
    for i, chunk in enumerate((["b", " a"], ["c", "q"])):
        pd.DataFrame({"id": chunk}).to_parquet(folder / f"part-{i}.parquet")

    def work(name: str, ch: Channel) -> list[int]:
        with LocalExecutor(1) as group:
            if name == "p0":
                src = parquet_id_batches(folder, batch=1)
            else:
                src = id_batches(["q", "a", "z"])
            return np.asarray(stream_pair_psi(ch, src, group, workdir=tmp_path).rows).tolist()

    assert run_in_memory(["p0", "p1"], "job-test", work, timeout=30) == {"p0": [1, 3], "p1": [1, 0]}
