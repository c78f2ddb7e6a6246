"""Input that used to crash after outputs were written is refused at read time (issues 15, 19):
each error names the file, every bad column and its first rows."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vfl.core.errors import DataError
from vfl.data import DataWarning
from vfl.data.labels import check_label
from vfl.data.readers import read_party_table, table_from_frame


def _csv(tmp_path: Path, text: str, name: str = "party.csv") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_every_bad_column_is_reported_in_one_error(tmp_path: Path) -> None:
    p = _csv(tmp_path, "id,a,b,c,d\nx,1,inf,1,\ny,2,2,oops,5\nz,3,1e300,3,6\nw,4,4,4,7\n")
    with pytest.raises(DataError) as e:
        read_party_table(p, name="p")
    msg = str(e.value)
    assert msg.startswith(f"{p}: 3 problems (columns 'b', 'c', 'd'):")
    assert "'b' has 2 values that are infinite or beyond ±1e+15" in msg and "lines 2, 4" in msg
    assert "'c' is not numeric" in msg and "'oops'" in msg and "lines 3" in msg
    assert "1 missing values in 1 columns ('d': lines 2)" in msg
    assert msg.count("fix:") == 3 and "nothing was written" in e.value.hint


def test_infinite_and_huge_values_name_file_column_and_rows(tmp_path: Path) -> None:
    p = _csv(tmp_path, "id,y,f\na,0,1\nb,1,-inf\nc,0,3\n")
    with pytest.raises(
        DataError, match=r"party.csv: column 'f' has 1 values that are infinite.*'-inf'.*lines 3"
    ):
        read_party_table(p, name="p", label_column="y")
    df = pd.DataFrame({"id": ["a", "b", "c"], "f": [1.0, 2e15, 3.0]})
    with pytest.raises(DataError, match=r"column 'f' has 1 values .*rows 1"):
        table_from_frame(df, name="p")
    with pytest.raises(DataError, match=r"label column 'y' has 1 values that are infinite"):
        table_from_frame(
            pd.DataFrame({"id": ["a", "b"], "y": [0, np.inf], "f": [1, 2]}), name="p", label_column="y"
        )


def test_truncated_gzip_names_the_file(tmp_path: Path) -> None:
    p = tmp_path / "party.csv.gz"
    body = "id,f\n" + "".join(f"r{i},{i}\n" for i in range(5000))
    p.write_bytes(gzip.compress(body.encode())[:-200])
    with pytest.raises(DataError) as e:
        read_party_table(p, name="p")
    assert str(p) in str(e.value) and "ends early or is corrupt" in str(e.value)
    assert "copy or export the file again" in e.value.hint


def test_constant_label_is_refused_with_counts(tmp_path: Path) -> None:
    p = _csv(tmp_path, "id,y,f\na,1,1\nb,1,2\nc,1,3\n")
    with pytest.raises(DataError, match=r"label column 'y' has a single value in all 3 rows \(1: 3 rows\)"):
        read_party_table(p, name="p", label_column="y")
    # the runtime checks the training rows the same way, once the split is known
    with pytest.raises(DataError, match=r"single value in all 2 training rows \(0: 2 rows\)"):
        check_label(np.array([0.0, 0.0]), source="insurer.csv", column="y", rows="training rows")
    check_label(np.array([0.0, 1.0]), source="insurer.csv", column="y")


def test_text_label_is_refused(tmp_path: Path) -> None:
    p = _csv(tmp_path, "id,y,f\na,yes,1\nb,no,2\n")
    with pytest.raises(DataError, match=r"label column 'y' is not numeric: 2 values such as \['yes', 'no'\]"):
        read_party_table(p, name="p", label_column="y")


@pytest.mark.parametrize("label", [None, "y"], ids=["passive", "label holder"])
def test_no_feature_columns_is_refused(tmp_path: Path, label: str | None) -> None:
    p = _csv(tmp_path, "id,y\na,0\nb,1\n" if label else "id\na\nb\n")
    with pytest.raises(DataError, match="no usable feature columns") as e:
        read_party_table(p, name="p", label_column=label)
    assert str(p) in str(e.value) and "at least one feature column" in e.value.hint


def test_only_uninformative_columns_is_refused_and_names_them(tmp_path: Path) -> None:
    p = _csv(tmp_path, "id,c,e\na,5,\nb,5,\n")
    with pytest.raises(DataError, match=r"no usable feature columns \(dropped: 'e', 'c'\)"):
        read_party_table(p, name="p")


def test_constant_and_empty_columns_are_dropped_with_a_warning(tmp_path: Path) -> None:
    p = _csv(tmp_path, "id,f,c,e,t\na,1,5,,u\nb,2,5,,u\nc,3,5,,u\n")
    with pytest.warns(DataWarning) as rec:
        t = read_party_table(p, name="p")
    assert t.feature_names == ["f"]
    text = [str(w.message) for w in rec]
    assert any(str(p) in m and "constant columns ['c', 't']" in m for m in text)
    assert any(str(p) in m and "dropped columns ['e'] (empty in every row)" in m for m in text)
    assert t.meta["dropped_columns"] == {"constant": ["c", "t"], "all_missing": ["e"]}
    assert {w.filename for w in rec} == {__file__}  # shown at the caller, not inside the reader


def test_a_column_with_one_value_and_gaps_is_kept_when_gaps_are_kept(tmp_path: Path) -> None:
    p = _csv(tmp_path, "id,f,g\na,1,5\nb,2,\nc,3,5\n")
    assert read_party_table(p, name="p", nan_policy="keep").feature_names == ["f", "g"]  # gaps inform trees
    with pytest.warns(DataWarning, match=r"constant columns \['g'\]"):
        assert read_party_table(p, name="p", nan_policy="mean").feature_names == ["f"]


def test_named_columns_are_never_dropped(tmp_path: Path) -> None:
    # a model's columns at predict time: one scored row is constant in every column
    p = _csv(tmp_path, "id,f,c\na,1,5\n")
    t = read_party_table(p, name="p", feature_columns=["f", "c"])
    assert t.feature_names == ["f", "c"] and t.n_rows == 1


def test_missing_value_markers_apply_to_features_not_ids(tmp_path: Path) -> None:
    p = _csv(tmp_path, "id,f\nNA,1\nnull,NA\nNone,3\n")
    t = read_party_table(p, name="p", nan_policy="keep")
    assert list(t.ids) == ["NA", "null", "None"]
    assert np.isnan(t.features[1, 0])


def test_byte_order_mark_is_not_part_of_the_id_column_name(tmp_path: Path) -> None:
    p = tmp_path / "excel.csv"
    p.write_bytes("\ufeffid,f\na,1\nb,2\n".encode())
    assert list(read_party_table(p, name="p").ids) == ["a", "b"]


def test_missing_values_name_every_column(tmp_path: Path) -> None:
    p = _csv(tmp_path, "id,f,g,h\na,1,,1\nb,,5,2\nc,3,,3\n")
    with pytest.raises(DataError) as e:
        read_party_table(p, name="p")
    assert re.search(r"3 missing values in 2 columns \('f': lines 3; 'g': lines 2, 4\)", str(e.value))
