"""Optional extras fail with vfl's own error, naming the extra: pyarrow is ``vfl[parquet]``, so a
default install reading or writing Parquet is told what to install, never a pandas engine list."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from vfl.cli.main import cli
from vfl.core.errors import ConfigError
from vfl.data.readers import read_ids, read_party_table


@pytest.fixture()
def no_pyarrow(monkeypatch: pytest.MonkeyPatch) -> None:
    """As on a default install: `import pyarrow` fails (a None entry makes the import raise)."""
    for name in [m for m in sys.modules if m == "pyarrow" or m.startswith("pyarrow.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)


@pytest.fixture()
def parquet_file(tmp_path: Path) -> Path:
    path = tmp_path / "hospital.parquet"
    pd.DataFrame({"id": ["a", "b"], "x": [1.0, 2.0]}).to_parquet(path)  # pyarrow is in the test extra
    return path


def test_reading_parquet_without_pyarrow_names_the_extra(parquet_file: Path, no_pyarrow: None) -> None:
    for read in (
        lambda: read_party_table(parquet_file, name="hospital"),
        lambda: read_ids(parquet_file, name="h"),
    ):
        with pytest.raises(ConfigError, match="Parquet needs pyarrow") as err:
            read()
        assert str(parquet_file) in str(err.value) and "pip install 'vfl[parquet]'" in err.value.hint


@pytest.mark.usefixtures("no_pyarrow")
def test_synth_parquet_without_pyarrow_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "synth"
    result = CliRunner().invoke(
        cli, ["data", "synth", "--rows", "200", "--format", "parquet", "--out", str(out)]
    )
    assert result.exit_code == 2, result.output
    assert "vfl[parquet]" in result.output and not out.exists()


def test_parquet_still_reads_with_pyarrow(parquet_file: Path) -> None:
    assert read_party_table(parquet_file, name="hospital").n_rows == 2
