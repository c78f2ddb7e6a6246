"""Text, pandas ``category`` and bool columns are encoded at their own party (issue 16)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vfl.core.errors import DataError
from vfl.data import CategoryMap, DataWarning
from vfl.data.categories import MAX_CATEGORIES
from vfl.data.readers import read_party_table, table_from_frame

NAN = np.nan


def _csv(tmp_path: Path, text: str, name: str = "party.csv") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_text_column_becomes_codes_in_sorted_order(tmp_path: Path) -> None:
    p = _csv(tmp_path, "id,tgrade,f\na,III,1\nb, II,2\nc,I,3\nd,II,4\ne,,5\n")
    t = read_party_table(p, name="p", nan_policy="keep")
    assert t.categories.columns == {"tgrade": ("I", "II", "III")}
    np.testing.assert_array_equal(t.features[:, 0], [2, 1, 0, 1, NAN])
    assert list(t.categorical) == [True, False]


def test_csv_and_parquet_give_the_same_map(tmp_path: Path) -> None:
    df = pd.DataFrame({"id": list("abcd"), "g": ["x", "y", None, "x"], "f": [1.0, 2.0, 3.0, 4.0]})
    df.to_csv(tmp_path / "p.csv", index=False)
    df.astype({"g": "category"}).to_parquet(tmp_path / "p.parquet")
    a = read_party_table(tmp_path / "p.csv", name="p", nan_policy="keep")
    b = read_party_table(tmp_path / "p.parquet", name="p", nan_policy="keep")
    assert a.categories == b.categories == CategoryMap({"g": ("x", "y")})
    np.testing.assert_array_equal(a.features, b.features)


def test_bool_and_pandas_category_columns_are_categorical() -> None:
    df = pd.DataFrame(
        {
            "id": ["a", "b", "c"],
            "smoker": [True, False, True],
            "band": pd.Categorical([3, 1, 3], categories=[3, 2, 1]),
            "f": [0.5, 1.5, 2.5],
        }
    )
    t = table_from_frame(df, name="p")
    assert t.categories.columns == {"smoker": ("False", "True"), "band": ("1", "3")}
    np.testing.assert_array_equal(t.features[:, :2], [[1, 1], [0, 0], [1, 1]])


def test_round_trip_and_unseen_category_goes_to_missing(tmp_path: Path) -> None:
    train = read_party_table(_csv(tmp_path, "id,g,f\na,x,1\nb,y,2\nc,x,3\n", "train.csv"), name="p")
    stored = json.loads(json.dumps(train.categories.to_dict()))  # what a model part holds
    assert stored == {"columns": {"g": ["x", "y"]}}
    trained = CategoryMap.from_dict(stored)
    new = _csv(tmp_path, "id,g,f\nd,y,1\ne,z,2\nf,z,3\ng,x,4\n", "new.csv")
    with pytest.warns(
        DataWarning, match=r"new.csv: column 'g': 2 rows hold categories unseen in training .*'z'"
    ):
        t = read_party_table(new, name="p", feature_columns=["g", "f"], categories=trained)
    np.testing.assert_array_equal(t.features[:, 0], [1, NAN, NAN, 0])
    assert t.meta["unseen_categories"] == {"g": 2} and t.categories == trained
    x, names = t.onehot()
    assert names == ["g=x", "g=y", "f"]
    np.testing.assert_array_equal(x, [[0, 1, 1], [0, 0, 2], [0, 0, 3], [1, 0, 4]])


def test_trained_map_reads_numeric_looking_codes_as_text(tmp_path: Path) -> None:
    trained = CategoryMap({"g": ("01", "2", "A")})
    p = _csv(tmp_path, "id,g,f\nd,01,1\ne,2,2\n")  # pandas alone would read 01 as the number 1
    t = read_party_table(p, name="p", feature_columns=["g", "f"], categories=trained)
    np.testing.assert_array_equal(t.features[:, 0], [0, 1])


def test_text_where_the_model_had_numbers_is_refused(tmp_path: Path) -> None:
    p = _csv(tmp_path, "id,g,f\nd,u,1\ne,v,2\n")
    with pytest.raises(DataError, match=r"columns \['g'\] hold text here but were numeric"):
        read_party_table(p, name="p", feature_columns=["g", "f"], categories=CategoryMap())


def test_fit_categories_keeps_only_training_categories() -> None:
    df = pd.DataFrame({"id": list("abcde"), "g": ["u", "v", "w", "u", "w"], "f": [1, 2, 3, 4, 5]})
    t = table_from_frame(df, name="p").fit_categories(np.array([0, 1, 3]))
    assert t.categories.columns == {"g": ("u", "v")}
    np.testing.assert_array_equal(t.features[:, 0], [0, 1, NAN, 0, NAN])
    assert t.meta["unseen_categories"] == {"g": 2}
    aligned = t.take(np.array([4, 0]))
    assert aligned.categories == t.categories and list(aligned.ids) == ["e", "a"]


def test_missing_category_cells_follow_the_error_policy(tmp_path: Path) -> None:
    p = _csv(tmp_path, "id,g,f\na,x,1\nb,,2\nc,y,3\n")
    with pytest.raises(DataError, match=r"1 missing values in 1 columns \('g': lines 3\)"):
        read_party_table(p, name="p")
    t = read_party_table(p, name="p", nan_policy="mean")  # imputation is for numbers: gap stays missing
    np.testing.assert_array_equal(t.features[:, 0], [0, NAN, 1])
    np.testing.assert_array_equal(t.onehot()[0][1], [0, 0, 2])


def test_all_bad_text_columns_are_named_in_one_error(tmp_path: Path) -> None:
    n = MAX_CATEGORIES + 1
    rows = "".join(f"r{i},name{i},{i},{'x' if i == 3 else i}\n" for i in range(n))
    with pytest.raises(DataError) as e:
        read_party_table(_csv(tmp_path, "id,name,f,g\n" + rows), name="p")
    msg = str(e.value)
    assert "2 problems (columns 'name', 'g')" in msg
    assert f"'name' is text with {n} distinct values" in msg and "'g' is not numeric" in msg


def test_stored_map_is_validated() -> None:
    assert CategoryMap.from_dict({}) == CategoryMap()
    for bad in ({"columns": []}, {"columns": {"g": ["b", "a"]}}, {"columns": {"g": [1]}}, {"x": 1}):
        with pytest.raises(DataError, match="category map"):
            CategoryMap.from_dict(bad)


def test_every_text_column_is_encoded_in_one_read(tmp_path: Path) -> None:
    # the shape of issue 16's file: three text columns used to need three runs to find
    rows = [("yes", "Post", "II"), ("no", "Pre", "III"), ("no", "Post", "I"), ("yes", "Pre", "II")]
    body = "".join(f"p{i},{a},{b},{c},{i * 1.5}\n" for i, (a, b, c) in enumerate(rows))
    t = read_party_table(_csv(tmp_path, "id,horTh,menostat,tgrade,age\n" + body), name="p")
    assert list(t.categories.columns) == ["horTh", "menostat", "tgrade"]
    x, names = t.onehot()
    assert x.shape == (4, 2 + 2 + 3 + 1) and names[-1] == "age"
    assert (x[:, :-1].sum(axis=1) == 3).all()  # one category per text column in every row


def test_a_models_columns_without_its_map_refuse_text(tmp_path: Path) -> None:
    p = _csv(tmp_path, "id,g,f\nd,u,1\ne,v,2\n")
    with pytest.raises(DataError, match=r"columns \['g'\] hold text here but were numeric"):
        read_party_table(p, name="p", feature_columns=["g", "f"])
