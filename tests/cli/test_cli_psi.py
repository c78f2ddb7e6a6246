"""The CLI contract: `vfl simulate` / `vfl psi` outputs, and bad input that writes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from vfl.cli.main import cli


def test_simulate_default_aligns_the_embedded_parties(default_simulation: tuple[Path, str]) -> None:
    out, output = default_simulation
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["parties"]) == {"insurer", "hospital", "pharma"}
    frames = {
        n: pd.read_csv(
            Path(__file__).resolve().parents[2] / "vfl/data/datasets/default" / f"{n}.csv.gz",
            dtype={"patient_id": str},
        )
        for n in summary["parties"]
    }
    truth = set.intersection(*(set(f["patient_id"]) for f in frames.values()))
    assert summary["intersection"] == len(truth)
    assert f"aligned rows: {len(truth)}" in output
    assert summary["aligned_order_agreed"] is True
    aligned = {n: (out / n / "aligned_ids.csv").read_text().split()[1:] for n in summary["parties"]}
    assert set(aligned["insurer"]) == truth
    assert aligned["insurer"] == aligned["hospital"] == aligned["pharma"]
    for key in ("parties", "intersection", "model", "he", "metrics", "baseline", "seconds", "bytes_sent"):
        assert key in summary
    assert summary["seconds"]["psi"] > 0 and all(v > 0 for v in summary["bytes_sent"].values())


def test_psi_command_on_user_files(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("pid,f\nx1,1\nx2,2\nx3,3\n")
    pd.DataFrame({"pid": ["x3", "x9", "x1"], "g": [1.0, 2.0, 3.0]}).to_parquet(tmp_path / "b.parquet")
    out = tmp_path / "out"
    res = CliRunner().invoke(
        cli,
        [
            "psi",
            "--data",
            f"a={tmp_path / 'a.csv'}",
            "--data",
            f"b={tmp_path / 'b.parquet'}",
            "--id-column",
            "pid",
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "aligned rows: 2" in res.output
    a = (out / "a" / "aligned_ids.csv").read_text().split()[1:]
    b = (out / "b" / "aligned_ids.csv").read_text().split()[1:]
    assert sorted(a) == ["x1", "x3"] and a == b


@pytest.mark.parametrize(
    ("content", "expect"),
    [
        ("pid,f\nx1,1\nx1,2\n", "occur more than once"),
        ("pid,f\nx1,1\n,2\n", "empty or malformed IDs"),
        ("other,f\nx1,1\n", "no ID column 'pid'"),
        ("", "empty"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(tmp_path: Path, content: str, expect: str) -> None:
    (tmp_path / "bad.csv").write_text(content)
    (tmp_path / "good.csv").write_text("pid,g\nx1,1\n")
    out = tmp_path / "out"
    res = CliRunner().invoke(
        cli,
        [
            "psi",
            "--data",
            f"bad={tmp_path / 'bad.csv'}",
            "--data",
            f"good={tmp_path / 'good.csv'}",
            "--id-column",
            "pid",
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 2
    assert expect in res.output and "next step:" in res.output
    assert "Traceback" not in res.output
    assert not out.exists()


def test_psi_reads_only_the_id_column(tmp_path: Path) -> None:
    """Alignment needs only the IDs: text, missing or constant feature columns do not stop it."""
    (tmp_path / "a.csv").write_text("pid,grade,f\nx1,II,\nx2,III,1\nx3,,1\n")
    (tmp_path / "b.csv").write_text("pid,g\nx3,1\nx1,2\n")
    out = tmp_path / "out"
    res = CliRunner().invoke(
        cli,
        [
            "psi",
            "--data",
            f"a={tmp_path / 'a.csv'}",
            "--data",
            f"b={tmp_path / 'b.csv'}",
            "--id-column",
            "pid",
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "aligned rows: 2" in res.output


def test_bad_option_values_explain_themselves(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["psi", "--data", "nofile"])
    assert res.exit_code == 2 and "NAME=PATH" in res.output
    res = CliRunner().invoke(cli, ["simulate", "--label", "insurer"])
    assert res.exit_code == 2 and "NAME:COLUMN" in res.output


def test_synth_writes_parties(tmp_path: Path) -> None:
    res = CliRunner().invoke(
        cli, ["data", "synth", "--rows", "100", "--parties", "3", "--out", str(tmp_path)]
    )
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["party0.csv", "party1.csv", "party2.csv"]
    assert "vfl simulate --data party0=" in res.output
