"""`vfl predict`: federated scoring of new rows with the parts a simulation saved; parts from
two different trainings are refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
from click.testing import CliRunner
from sklearn.metrics import roc_auc_score

from vfl.cli.main import cli


def _train(data: dict[str, Path], out: Path, seed: int, trees: int) -> None:
    args = [
        "simulate",
        "--param",
        f"n_estimators={trees}",
        "--model",
        "sbt",
        "--he",
        "ou",
        "--id-column",
        "pid",
        "--label",
        "insurer:y",
        "--seed",
        str(seed),
        "--quiet",
        "--out",
        str(out),
    ]
    for n, p in data.items():
        args += ["--data", f"{n}={p}"]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output


def test_predict_scores_the_shared_rows_and_refuses_mixed_parts(
    three_party_breast: dict[str, Path], tmp_path: Path
) -> None:
    _train(three_party_breast, tmp_path / "a", 1, trees=3)
    args = ["predict", str(tmp_path / "a"), "--id-column", "pid", "--out", str(tmp_path / "scores")]
    for n, p in three_party_breast.items():
        args += ["--data", f"{n}={p}"]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    pred = pd.read_csv(tmp_path / "scores" / "insurer" / "predictions.csv")
    truth = pd.read_csv(three_party_breast["insurer"]).set_index("pid")["y"]
    assert len(pred) == int(res.output.split("scored ")[1].split(" ")[0].replace(",", ""))
    assert roc_auc_score(truth.loc[pred["id"]], pred["score"]) > 0.95
    assert not (
        tmp_path / "scores" / "hospital" / "predictions.csv"
    ).exists()  # scores stay at the label holder

    _train(three_party_breast, tmp_path / "b", 2, trees=1)
    shutil.copy(tmp_path / "b" / "pharma" / "model.json", tmp_path / "a" / "pharma" / "model.json")
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 2
    assert "different training jobs" in res.output and "next step" in res.output


def test_predict_with_no_data_scores_the_embedded_dataset(
    default_simulation: tuple[Path, str], tmp_path: Path
) -> None:
    """`vfl simulate && vfl predict out` works on the embedded data (issue 19: --data claimed a
    default it did not have, and --id-column defaulted to `id`)."""
    out, _ = default_simulation
    res = CliRunner().invoke(cli, ["predict", str(out), "--out", str(tmp_path / "scores")])
    assert res.exit_code == 0, res.output
    assert (
        "rows held by every party" in res.output
        and (tmp_path / "scores" / "insurer" / "predictions.csv").is_file()
    )
