"""Each bad input gets a clear error naming the file, the column and the first offending rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vfl.core.errors import DataError
from vfl.data.ids import IdRule
from vfl.data.readers import read_party_table


def _csv(tmp_path: Path, text: str, name: str = "party.csv") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_reads_csv_and_parquet_identically(tmp_path: Path) -> None:
    df = pd.DataFrame({"id": ["a", "b", "c"], "y": [0, 1, 0], "f1": [1.0, 2.0, 3.0], "f2": [4, 5, 6]})
    df.to_csv(tmp_path / "p.csv", index=False)
    df.to_parquet(tmp_path / "p.parquet", index=False)
    a = read_party_table(tmp_path / "p.csv", name="insurer", label_column="y")
    b = read_party_table(tmp_path / "p.parquet", name="insurer", label_column="y")
    assert list(a.ids) == list(b.ids) == ["a", "b", "c"]
    np.testing.assert_array_equal(a.features, b.features)
    assert a.feature_names == ["f1", "f2"]
    np.testing.assert_array_equal(a.label, [0, 1, 0])


def test_numeric_ids_keep_their_text(tmp_path: Path) -> None:
    t = read_party_table(_csv(tmp_path, "id,f\n007,1\n12,2\n"), name="p")
    assert list(t.ids) == ["007", "12"]  # not 7 / 12.0


def test_duplicate_ids_name_file_column_and_lines(tmp_path: Path) -> None:
    p = _csv(tmp_path, "id,f\na,1\nb,2\na,3\n")
    with pytest.raises(DataError) as e:
        read_party_table(p, name="p")
    msg = str(e.value)
    assert str(p) in msg and "'id'" in msg and "lines 2, 4" in msg and "'a'" in msg
    assert e.value.hint


def test_duplicates_after_normalisation(tmp_path: Path) -> None:
    p = _csv(tmp_path, "id,f\n P-1,1\np-1 ,2\n")
    assert len(read_party_table(p, name="p").ids) == 2  # case preserved by default
    with pytest.raises(DataError, match="more than once"):
        read_party_table(p, name="p", id_rule=IdRule(case="lower"))


def test_empty_and_malformed_ids(tmp_path: Path) -> None:
    p = _csv(tmp_path, 'id,f\na,1\n,2\n"  ",3\n"x\x01y",4\n')
    with pytest.raises(DataError) as e:
        read_party_table(p, name="p")
    assert "3 empty or malformed IDs" in str(e.value) and "lines 3, 4, 5" in str(e.value)


def test_missing_id_column_lists_columns(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"no ID column 'patient'.*columns: id, f") as e:
        read_party_table(_csv(tmp_path, "id,f\na,1\n"), name="p", id_column="patient")
    assert "--id-column" in e.value.hint


def test_mostly_numeric_column_with_typos_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError) as e:
        read_party_table(_csv(tmp_path, "id,f,g\na,1,x\nb,2,3\nc,3,4\nd,4,yy\n"), name="p")
    msg = str(e.value)
    assert "'g' is not numeric" in msg and "'x'" in msg and "lines 2, 5" in msg and "among 2 numbers" in msg


def test_nan_is_an_error_by_default_and_imputed_on_request(tmp_path: Path) -> None:
    p = _csv(tmp_path, "id,f,g\na,1,\nb,3,5\nc,,7\n")
    with pytest.raises(DataError) as e:
        read_party_table(p, name="p")
    assert "2 missing values" in str(e.value) and "--nan" in e.value.hint
    t = read_party_table(p, name="p", nan_policy="mean")
    np.testing.assert_allclose(t.features, [[1, 6], [3, 5], [2, 7]])
    t = read_party_table(p, name="p", nan_policy="keep")
    assert np.isnan(t.features).sum() == 2


def test_empty_file_and_header_only(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="empty"):
        read_party_table(_csv(tmp_path, ""), name="p")
    with pytest.raises(DataError, match="no rows"):
        read_party_table(_csv(tmp_path, "id,f\n", "h.csv"), name="p")


def test_missing_file_and_unknown_type(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        read_party_table(tmp_path / "nope.csv", name="p")
    with pytest.raises(DataError, match="unknown file type"):
        read_party_table(_csv(tmp_path, "x", "p.xlsx"), name="p")


def test_unlabelled_rows_are_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="label column 'y' is empty in 1 rows"):
        read_party_table(_csv(tmp_path, "id,y,f\na,1,1\nb,,2\n"), name="p", label_column="y")


def test_a_folder_of_parquet_shards_is_one_table(tmp_path) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("pyarrow")
    from vfl.data.readers import parquet_id_batches, read_ids

    folder = tmp_path / "shards"
    folder.mkdir()
    pd.DataFrame({"id": ["c", "d"], "x": [3.0, 4.0]}).to_parquet(folder / "part-1.parquet")
    pd.DataFrame({"id": ["a", " b"], "x": [1.0, 2.0]}).to_parquet(folder / "part-0.parquet")
    (folder / "notes.txt").write_text("not a shard")
    t = read_party_table(folder, name="p", id_column="id")
    assert list(t.ids) == ["a", "b", "c", "d"] and t.features[:, 0].tolist() == [1.0, 2.0, 3.0, 4.0]
    assert list(read_ids(folder, name="p").ids) == ["a", "b", "c", "d"]
    batches = [list(b) for b in parquet_id_batches(folder, batch=1)()]
    assert batches == [["a"], ["b"], ["c"], ["d"]]
    pd.DataFrame({"id": ["a"], "x": [1.0]}).to_parquet(folder / "part-2.parquet")
    with pytest.raises(DataError, match=r"more than once|duplicate"):
        read_party_table(folder, name="p", id_column="id")
    pd.DataFrame({"key": ["e"]}).to_parquet(folder / "part-3.parquet")
    with pytest.raises(DataError, match=r"part-3\.parquet: columns"):
        read_party_table(folder, name="p", id_column="id")


def test_an_empty_folder_says_what_to_do(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DataError, match=r"no \.parquet files"):
        read_party_table(tmp_path, name="p", id_column="id")
