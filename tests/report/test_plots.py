from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.report.conftest import SvgChart, load, self_contained
from vfl.core.errors import DataError
from vfl.report.plots import (
    FORMATS,
    contributions,
    plot_roc,
    svg_bytes,
    timing_figure,
    timing_parts,
    training_series,
    write_plots,
)

# what each plot draws at least (bars and lines): chance, model and baseline (ROC), a loss line
# or per-round bars (training), a bar a party (contribution), a bar a part (timing)
_DRAWN = {"roc": 3, "training": 1, "contribution": 2, "timing": 5}


def _drawn(chart: SvgChart) -> int:
    """Bars (pygal's class "rect") and data lines ("line reactive") in the chart."""
    classes = [set(e.get("class", "").split()) for e in chart.root.iter()]
    return sum(1 for c in classes if "rect" in c or {"line", "reactive"} <= c)


def _check_files(paths: list[Path], names: set[str]) -> None:
    assert FORMATS == ("svg",)
    assert {(p.stem, p.suffix[1:]) for p in paths} == {(n, f) for n in names for f in FORMATS}
    for p in paths:
        assert p.parent.name == "plots" and p.stat().st_size > 5_000, p
        svg = p.read_bytes()
        self_contained(svg)
        chart = SvgChart(svg)
        assert chart.width > 300 and chart.height > 250, p
        assert _drawn(chart) >= _DRAWN[p.stem], f"{p} draws {_drawn(chart)} bars and lines"


def test_sbt_run_gets_every_plot(sbt_out: Path) -> None:
    paths = write_plots(sbt_out, load(sbt_out))
    _check_files(paths, {"roc", "training", "contribution", "timing"})


def test_lr_run_gets_every_plot(lr_out: Path) -> None:
    paths = write_plots(lr_out, load(lr_out))
    _check_files(paths, {"roc", "training", "contribution", "timing"})


def test_plots_are_reproducible(sbt_out: Path) -> None:
    s = load(sbt_out)
    first = {p: p.read_bytes() for p in write_plots(sbt_out, s)}
    second = {p: p.read_bytes() for p in write_plots(sbt_out, s)}
    assert first == second


def test_alignment_only_run_gets_the_timing_plot(sbt_out: Path) -> None:
    s = load(sbt_out)
    s.update(model="none", metrics={}, baseline={}, fit_stats={})
    s.pop("curves")
    assert [p.stem for p in write_plots(sbt_out, s)] == ["timing"]


def test_sbt_contribution_is_the_label_holders_gain_share(sbt_run: Path) -> None:
    s = load(sbt_run)
    stats = s["fit_stats"][s["active"]]
    c = contributions(sbt_run, s)
    assert set(c) == set(s["parties"])
    assert sum(v["gain_share"] for v in c.values()) == pytest.approx(1.0)
    for party, v in c.items():
        assert v["gain_share"] == stats["gain_share"][party]
        assert v["splits"] == stats["splits"][party]


def test_lr_contribution_is_coefficient_mass_of_each_part(lr_run: Path) -> None:
    s = load(lr_run)
    c = contributions(lr_run, s)
    for party in s["parties"]:
        doc = json.loads((lr_run / party / "model.json").read_text())
        w = doc.get("part", doc)["weights"]
        assert c[party]["coef_mass"] == pytest.approx(float(np.sum(np.abs(w))))
    assert sum(v["coef_share"] for v in c.values()) == pytest.approx(1.0)


def test_training_series_follow_the_fit_stats(lr_run: Path, sbt_run: Path) -> None:
    lr, sbt = load(lr_run), load(sbt_run)
    series = training_series(lr)
    assert series["unit"] == "epoch"
    assert series["loss"] == lr["fit_stats"][lr["active"]]["loss_history"] and series["loss"]
    series = training_series(sbt)
    trees = sbt["fit_stats"][sbt["active"]]["trees"]
    assert series["unit"] == "tree" and len(trees) == 3
    # boosting on the training rows lowers the training log-loss tree after tree
    assert series["metric"] == "logloss" and len(series["loss"]) == 3
    assert all(b < a for a, b in zip(series["loss"], series["loss"][1:], strict=False))
    assert series["seconds"]["crypto"] == [t["seconds"]["crypto"] for t in trees]


def test_timing_parts_add_up_to_the_wall_time() -> None:
    s = {"seconds": {"psi": 2.0, "train": 5.0, "total": 10.0, "crypto": 1.5, "compute": 1.0, "network": 2.0}}
    parts = timing_parts(s)
    assert parts == {"psi": 2.0, "crypto": 1.5, "compute": 1.0, "network": 2.0, "other": 3.5}
    assert timing_parts({"seconds": {"psi": 1.0, "total": 0.5}})["other"] == 0.0


def test_roc_names_its_axes_and_curves(sbt_out: Path) -> None:
    s = load(sbt_out)
    write_plots(sbt_out, s)
    chart = SvgChart((sbt_out / "plots" / "roc.svg").read_bytes())
    split = s["curves"]["model"].get("split")
    assert chart.titles() == {
        "title": "ROC" + (f" ({split} rows)" if split else ""),
        "x": "false positive rate",
        "y": "true positive rate",
    }
    auc = s["curves"]["model"]["auc"]
    labels = [label for label, _ in chart.legend()]
    assert labels[0] == "chance" and any(label.startswith("federated (AUC ") for label in labels)
    assert f"federated (AUC {auc:.4f})" in labels and any("centralised baseline" in label for label in labels)


def test_timing_notes_parts_that_add_up_to_more_than_the_wall_time() -> None:
    parts = {"psi": 2.0, "crypto": 5.0, "compute": 3.0, "network": 4.0, "other": 0.0}
    chart = SvgChart(svg_bytes(timing_figure(parts, total=10.0)))
    assert chart.titles()["title"] == "Wall time 10.0 s"
    assert "measured parts add up to 14.0 s, more than the wall time: they overlap" in chart.texts()
    assert any("dasharray" in p.get("style", "") for p in chart.root.iter("{http://www.w3.org/2000/svg}path"))
    quiet = SvgChart(svg_bytes(timing_figure(parts, total=14.0)))
    assert not any("more than the wall time" in t for t in quiet.texts())


def test_charts_have_fixed_ids_and_no_date(sbt_out: Path) -> None:
    for p in write_plots(sbt_out, load(sbt_out)):
        assert f'id="chart-{p.stem}"' in p.read_text()


def test_malformed_curve_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="fpr"):
        plot_roc({"model": {"fpr": [0, 1], "tpr": [0]}}, tmp_path / "roc")
