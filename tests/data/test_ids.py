"""The ID rule: NFC normalisation, refusal of invisible characters, IDs-only reads (issue 19)."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pandas as pd
import pytest

from vfl.core.errors import DataError
from vfl.data.ids import IdRule, normalise_ids
from vfl.data.readers import read_ids, read_party_table


def _csv(tmp_path: Path, text: str, name: str = "party.csv") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_nfc_and_nfd_spellings_of_one_id_match(tmp_path: Path) -> None:
    nfc, nfd = unicodedata.normalize("NFC", "José-7"), unicodedata.normalize("NFD", "José-7")
    assert nfc != nfd
    a = read_party_table(_csv(tmp_path, f"id,f\n{nfc},1\nb,2\n", "a.csv"), name="a")
    b = read_party_table(_csv(tmp_path, f"id,g\n{nfd},3\nb,4\n", "b.csv"), name="b")
    assert set(a.ids) & set(b.ids) == {nfc, "b"}


def test_nfc_applies_after_case_folding() -> None:
    ids, bad = normalise_ids(pd.Series(["ÅSA", unicodedata.normalize("NFD", "åsa")]), IdRule(case="lower"))
    assert ids[0] == ids[1] == unicodedata.normalize("NFC", "åsa") and not bad.any()


@pytest.mark.parametrize(
    ("char", "named"),
    [
        ("\u00a0", "U+00A0 NO-BREAK SPACE"),
        ("\u0085", "U+0085 control character"),
        ("\u2028", "U+2028 LINE SEPARATOR"),
        ("\u200b", "U+200B ZERO WIDTH SPACE"),
        ("\u2009", "U+2009 THIN SPACE"),
    ],
)
def test_invisible_characters_inside_ids_are_refused(tmp_path: Path, char: str, named: str) -> None:
    p = _csv(tmp_path, f"id,f\nok,1\nP{char}1,2\nfine,3\nQ{char}2,4\n")
    with pytest.raises(DataError) as e:
        read_party_table(p, name="p")
    msg = str(e.value)
    assert str(p) in msg and "'id' has 2 empty or malformed IDs (lines 3, 5)" in msg and named in msg
    assert "invisible" in e.value.hint


def test_an_ascii_space_inside_an_id_is_an_ordinary_character(tmp_path: Path) -> None:
    t = read_party_table(_csv(tmp_path, "id,f\nP 1,1\nP  1,2\n"), name="p")
    assert list(t.ids) == ["P 1", "P  1"]


def test_surrounding_unicode_spaces_are_stripped_like_ascii_ones() -> None:
    ids, bad = normalise_ids(pd.Series(["\u00a0P1\u2028", " P2 "]), IdRule())
    assert list(ids) == ["P1", "P2"] and not bad.any()
    _, bad = normalise_ids(pd.Series(["\u00a0P1"]), IdRule(strip=False))
    assert bad.all()


def test_ids_only_read_ignores_text_and_broken_feature_columns(tmp_path: Path) -> None:
    p = _csv(tmp_path, "id,grade,broken,y\na,II,inf,1\nb,III,,0\nc,II,x,\n")
    t = read_ids(p, name="p")
    assert list(t.ids) == ["a", "b", "c"] and t.n_features == 0 and t.label is None
    with pytest.raises(DataError, match=r"no ID column 'pid' \(columns: id, grade, broken, y\)"):
        read_ids(p, name="p", id_column="pid")


def test_ids_only_read_of_parquet_reads_one_column(tmp_path: Path) -> None:
    p = tmp_path / "p.parquet"
    pd.DataFrame({"id": ["a", "b"], "when": pd.to_datetime(["2020-01-01", "2021-01-01"])}).to_parquet(p)
    assert list(read_ids(p, name="p").ids) == ["a", "b"]
    with pytest.raises(DataError, match="'when' has type datetime64"):
        read_party_table(p, name="p")
    with pytest.raises(DataError, match="no ID column 'pid'"):
        read_ids(p, name="p", id_column="pid")


def test_ids_only_still_checks_the_ids(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="occur more than once"):
        read_ids(_csv(tmp_path, "id,t\na,x\na,y\n"), name="p")
