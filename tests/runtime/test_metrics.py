"""One key scheme for every task (summary.json's ``metrics`` and ``baseline``), the Gini index, and
`vfl simulate` end to end for regression, multi-class and Poisson-with-exposure jobs (these
crashed the label holder in ``binary_metrics`` before)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.protocols.secureboost.tables import frame
from vfl.runtime.evaluate.metrics import binary_metrics, confusion, gini_index, task_metrics
from vfl.runtime.modes.config import build_simulation_config
from vfl.runtime.modes.simulate import simulate

KEYS = {
    "binary:logistic": {"auc", "ks", "log_loss", "accuracy"},
    "multi:softmax": {"accuracy", "log_loss"},
    "multi:softprob": {"accuracy", "log_loss"},
    "reg:squarederror": {"rmse", "mae", "r2"},
    "count:poisson": {"rmse", "mae", "r2", "mean_poisson_deviance", "gini"},
    "reg:gamma": {"rmse", "mae", "r2", "mean_gamma_deviance", "gini"},
    "reg:tweedie": {"rmse", "mae", "r2", "mean_tweedie_deviance", "gini"},
}


@pytest.mark.parametrize("objective", sorted(KEYS))
def test_each_task_has_its_keys(objective: str) -> None:
    rng = np.random.default_rng(0)
    if objective.startswith("multi:"):
        y = rng.integers(0, 3, 50).astype(float)
        pred = rng.dirichlet(np.ones(3), 50)
    elif objective == "binary:logistic":
        y = rng.integers(0, 2, 50).astype(float)
        pred = rng.random(50)
    else:
        y = rng.gamma(2.0, 1.0, 50)
        pred = y * rng.uniform(0.8, 1.2, 50)
    got = task_metrics(objective, y, pred)
    assert set(got) == KEYS[objective]
    assert all(isinstance(v, float) and np.isfinite(v) for v in got.values())
    if objective == "binary:logistic":
        assert got == binary_metrics(y, pred)  # binary exactly as before


def test_gini_orders_risks() -> None:
    y = np.array([0.0, 0.0, 1.0, 3.0])
    assert gini_index(y, y) == pytest.approx(1 - 2 * (0.25 * (0 + 0 + 0.25 / 2 + (0.25 + 1) / 2)))
    assert gini_index(y, y) > 0.5 > gini_index(y, -y)
    rng = np.random.default_rng(1)
    big = rng.poisson(2.0, 20_000).astype(float)
    assert abs(gini_index(big, rng.random(20_000))) < 0.02  # no ranking power
    assert gini_index(np.zeros(3), np.arange(3.0)) == 0.0


def test_confusion_matrix_counts_true_by_predicted() -> None:
    y = np.array([0, 1, 2, 2])
    proba = np.eye(3)[[0, 2, 2, 1]]
    assert confusion(y, proba) == [[1, 0, 0], [0, 0, 1], [0, 1, 1]]


def _write_parties(df: pd.DataFrame, label: str, root: Path, offset: str | None = None) -> tuple[str, ...]:
    """Three party files (the first with the label and offset); returns the --data options."""
    cols = [c for c in df.columns if c not in ("id", label, offset)]
    groups = np.array_split(np.arange(len(cols)), 3)
    data = []
    for i, (name, g) in enumerate(zip(("insurer", "hospital", "pharma"), groups, strict=True)):
        own = ["id", *(cols[j] for j in g)] + ([label, *([offset] if offset else [])] if i == 0 else [])
        path = root / f"{name}.csv"
        df[own].to_csv(path, index=False)
        data.append(f"{name}={path}")
    return tuple(data)


CASES = [  # table, objective, offset, headline key
    pytest.param("diabetes", "reg:squarederror", None, "test_rmse", id="diabetes-regression"),
    pytest.param("vehicle_scale", "multi:softmax", None, "test_log_loss", id="vehicle-multiclass"),
    pytest.param(
        "insurance", "count:poisson", "log_holders", "test_mean_poisson_deviance", id="claims-exposure"
    ),
]


@pytest.mark.parametrize("table,objective,offset,key", CASES)
def test_simulate_reports_the_tasks_metrics_and_baseline(
    tmp_path: Path, table: str, objective: str, offset: str | None, key: str
) -> None:
    df, label = frame(table)
    if offset:
        df[offset] = np.log(df.pop("Holders").to_numpy(np.float64))
    data = _write_parties(df, label, tmp_path, offset)
    params = {"objective": objective, "n_estimators": 3, "max_depth": 2, "min_child_weight": 0.0}
    cfg = build_simulation_config(
        data,
        "id",
        f"insurer:{label}",
        f"insurer:{offset}" if offset else None,
        model="sbt",
        he="ou",
        model_params=params,
        out_dir=tmp_path / "out",
        test_size=0.25,
    )
    summary = simulate(cfg)
    metrics, baseline = summary["metrics"], summary["baseline"]
    assert key in metrics and "test_auc" not in metrics
    assert set(metrics) == {k for k in baseline if k != "model"}
    assert metrics[key] <= 1.25 * baseline[key], (metrics, baseline)
    assert "curves" not in summary and "vs_own_data" not in summary  # ROC and paired AUC: binary only
    if objective.startswith("multi:"):
        matrix = np.array(summary["fit_stats"]["insurer"]["test_confusion_matrix"])
        assert matrix.shape == (4, 4) and matrix.sum() == round(len(df) * 0.25)
    assert (tmp_path / "out" / "summary.json").is_file()
    from rich.console import Console

    from vfl.report.html import build_report
    from vfl.report.plots import write_plots
    from vfl.report.summary import render_summary

    console = Console(record=True, width=120)
    console.print(render_summary(summary))  # what `vfl simulate` prints (it crashed on these tasks)
    assert key in console.export_text()
    write_plots(tmp_path / "out", summary)
    assert build_report(tmp_path / "out").is_file()


def test_vfl_run_trains_a_three_class_job_at_every_party(tmp_path: Path) -> None:
    """The issue's job: objective multi:softmax with num_class = 3, each party a `vfl run`
    process over gRPC; the label holder used to crash in binary_metrics after training."""
    df, label = frame("vehicle_scale")
    df = df[df[label] < 3].iloc[:300].reset_index(drop=True)
    data = _write_parties(df, label, tmp_path)
    params = {"objective": "multi:softmax", "num_class": 3, "n_estimators": 2, "max_depth": 2}
    cfg = build_simulation_config(
        data,
        "id",
        f"insurer:{label}",
        model="sbt",
        he="ou",
        model_params=params,
        out_dir=tmp_path / "out",
        transport="grpc",
    )
    summary = simulate(cfg)
    assert {"train_accuracy", "test_accuracy", "test_log_loss"} <= set(summary["metrics"])
    assert summary["metrics"]["test_accuracy"] > 0.5
    assert np.array(summary["fit_stats"]["insurer"]["test_confusion_matrix"]).shape == (3, 3)
    for name in ("insurer", "hospital", "pharma"):
        assert (tmp_path / "out" / name / "model.json").is_file()
