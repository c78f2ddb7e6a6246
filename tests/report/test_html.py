from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from tests.report.conftest import ReportDom, expected_cells, load
from vfl.core.errors import DataError
from vfl.report.html import REPORT_NAME, build_report, dp_budget, load_summary


@pytest.fixture()
def sbt_report(sbt_out: Path) -> tuple[Path, ReportDom]:
    path = build_report(sbt_out)
    return path, ReportDom(path.read_text())


def test_report_shows_the_numbers_of_summary_json(sbt_out: Path, sbt_report: tuple[Path, ReportDom]) -> None:
    path, dom = sbt_report
    assert path == sbt_out / REPORT_NAME
    s = load(sbt_out)
    expected = expected_cells(s)
    assert {k: dom.keys.get(k) for k in expected} == expected
    assert dom.keys["card.test_auc"] == f"{s['metrics']['test_auc']:.4f}"
    assert dom.keys["he"] == "ou" and dom.keys["dp"] == "not used"
    stats = s["fit_stats"][s["active"]]
    for party, share in stats["gain_share"].items():
        assert dom.keys[f"contribution.{party}.gain_share"] == f"{share:.1%}"


def test_report_embeds_every_plot_and_nothing_external(
    sbt_out: Path, sbt_report: tuple[Path, ReportDom]
) -> None:
    _, dom = sbt_report
    svgs = sorted((sbt_out / "plots").glob("*.svg"))
    assert sorted(dom.figures) == sorted(p.stem for p in svgs)
    assert sorted(dom.figures) == ["contribution", "roc", "timing", "training"]
    inlined = {base64.b64decode(img["src"].removeprefix("data:image/svg+xml;base64,")) for img in dom.images}
    assert inlined == {p.read_bytes() for p in svgs}
    assert all(img["alt"] for img in dom.images)
    assert dom.external == [] and "script" not in dom.tags and "link" not in dom.tags


def test_lr_report_shows_coefficient_mass(lr_out: Path) -> None:
    dom = ReportDom(build_report(lr_out).read_text())
    s = load(lr_out)
    expected = expected_cells(s)
    assert {k: dom.keys.get(k) for k in expected} == expected
    assert {k for k in dom.keys if k.startswith("contribution.")} == {
        f"contribution.{p}.{k}" for p in s["parties"] for k in ("coef_mass", "coef_share")
    }


def test_dp_budget_is_shown_when_used(sbt_out: Path) -> None:
    s = load(sbt_out)
    s["dp"] = {"epsilon": 3.0, "delta": 1e-5}
    (sbt_out / "summary.json").write_text(json.dumps(s))
    dom = ReportDom(build_report(sbt_out).read_text())
    assert dom.keys["dp.epsilon"] == "3" and dom.keys["dp.delta"] == "1e-05"


def test_dp_budget_falls_back_to_the_label_holders_stats() -> None:
    lr = {"active": "a", "fit_stats": {"a": {"dp_epsilon": 2.5, "dp_delta": 1e-6}}}
    sbt = {"active": "a", "fit_stats": {"a": {"dp": {"epsilon": 1.0, "delta": 1e-5}}}}
    assert dp_budget(lr) == {"epsilon": 2.5, "delta": 1e-6}
    assert dp_budget(sbt) == {"epsilon": 1.0, "delta": 1e-5}
    assert dp_budget({"active": "a", "fit_stats": {"a": {"dp": {}}}}) is None


def test_missing_or_foreign_summary_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(DataError) as err:
        load_summary(tmp_path)
    assert "vfl simulate" in err.value.hint
    (tmp_path / "summary.json").write_text('{"benchmark": 1}')
    with pytest.raises(DataError, match="lacks parties, intersection"):
        load_summary(tmp_path)
    (tmp_path / "summary.json").write_text("{not json")
    with pytest.raises(DataError, match="not valid JSON"):
        load_summary(tmp_path)
