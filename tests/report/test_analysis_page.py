"""The charts of the analysis page (``vfl analyze``), drawn from a small analysis.json: what each
chart names, the order and colour of its bars, the heatmap's cells, and that the page is one
self-contained, reproducible file."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from tests.report.conftest import ReportDom, SvgChart, self_contained
from vfl.core.errors import DataError
from vfl.report.analysis import (
    ANALYSIS_PAGE,
    build_analysis_page,
    plot_correlation,
    plot_iv,
    plot_missing,
    plot_woe,
    render_analysis,
)

_INSURER, _HOSPITAL = "#1f77b4", "#ff7f0e"  # the first two party colours


def _feature(party: str, name: str, iv: float, woe: list[float | None], **kw: Any) -> dict[str, Any]:
    return {"party": party, "name": name, "iv": iv, "woe": woe, "n_bins": len(woe), **kw}


@pytest.fixture()
def analysis() -> dict[str, Any]:
    features = [
        _feature("insurer", "age", 0.31, [0.5, -0.2, -0.9, 0.1], edges=[30.0, 50.0], missing_rate=0.0),
        _feature("insurer", "bmi", 0.05, [0.2, None, 0.0], edges=[25.0], missing_rate=0.25),
        _feature("hospital", "visits", 0.42, [-0.4, 0.3, 0.8, -0.1], edges=[1.0, 3.0], missing_rate=0.1),
        _feature("hospital", "ward", 0.01, [0.1, -0.1, 0.0], edges=None, missing_rate=0.0),
    ]
    pair = [("age", "visits", 0.9), ("age", "ward", -0.95), ("bmi", "visits", None), ("bmi", "ward", 0.0)]
    return {
        "parties": ["insurer", "hospital"],
        "active": "insurer",
        "intersection": 1000,
        "label": {"events": 120},
        "he": "ou",
        "settings": {"min_count": 15, "dp_epsilon": None},
        "features": features,
        "correlation": [
            {"a": {"party": "insurer", "name": a}, "b": {"party": "hospital", "name": b}, "r": r}
            for a, b, r in pair
        ],
        "selection": {
            "iv_min": 0.02,
            "max_abs_r": 0.9,
            "features": {"insurer": ["age"], "hospital": ["visits"]},
        },
    }


def test_page_embeds_four_self_contained_svg_charts(analysis: dict[str, Any], tmp_path: Path) -> None:
    page = render_analysis(analysis)
    dom = ReportDom(page)
    assert len(dom.images) == 4 and dom.external == [] and "script" not in dom.tags
    for img in dom.images:
        assert img["src"].startswith("data:image/svg+xml;base64,") and img["alt"]
        self_contained(base64.b64decode(img["src"].removeprefix("data:image/svg+xml;base64,")))
    assert render_analysis(analysis) == page  # the same analysis.json, the same bytes
    (tmp_path / "analysis.json").write_text(json.dumps(analysis))
    assert build_analysis_page(tmp_path).read_text() == page
    assert (tmp_path / ANALYSIS_PAGE).is_file()


def test_missing_analysis_json_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(DataError) as err:
        build_analysis_page(tmp_path)
    assert "vfl analyze" in err.value.hint


def test_iv_bars_rank_features_top_down_in_their_party_colour(analysis: dict[str, Any]) -> None:
    chart = SvgChart(plot_iv(analysis))
    assert chart.titles() == {"title": "IV per feature", "x": "information value"}
    assert [label for label, _ in chart.legend()] == ["insurer", "hospital"]
    assert chart.colours()[0] == _INSURER and chart.colours()[1] == _HOSPITAL
    labels = sorted(chart.axis_labels("y"), key=lambda t: t[2])  # top to bottom
    assert [t for t, _, _ in labels] == ["hospital: visits", "insurer: age", "insurer: bmi", "hospital: ward"]
    row = {t: y for t, _, y in labels}
    bars = chart.series_bars()
    for serie, party in enumerate(analysis["parties"]):  # each party's bars on its own features' rows
        centres = sorted((b[1] + b[3]) / 2 for b in bars[serie])
        mine = sorted(y for t, y in row.items() if t.startswith(f"{party}:"))
        assert centres == pytest.approx(mine, abs=6), party
    width = {round((b[1] + b[3]) / 2): b[2] - b[0] for bs in bars.values() for b in bs}
    assert list(dict(sorted(width.items())).values()) == sorted(width.values(), reverse=True)


def test_woe_panels_show_the_top_features_bins(analysis: dict[str, Any]) -> None:
    charts = SvgChart(plot_woe(analysis, top=3)).panels()
    assert [c.titles()["title"] for c in charts] == [
        "hospital: visits (IV 0.420)",
        "insurer: age (IV 0.310)",
        "insurer: bmi (IV 0.050)",
    ]
    assert all(c.titles()["y"] == "WOE" for c in charts)
    assert [t for t, _, _ in charts[1].axis_labels("x")] == ["< 30", "[30, 50)", ">= 50", "missing"]
    assert len(charts[2].series_bars().get(0, [])) == 1  # bmi: one bin without a WOE, one of zero
    assert set(charts[0].bar_colours()) == {_HOSPITAL} and set(charts[1].bar_colours()) == {_INSURER}
    assert len(SvgChart(plot_woe(analysis)).panels()) == 4


def test_correlation_heatmap_colours_cross_party_r_only(analysis: dict[str, Any]) -> None:
    chart = SvgChart(plot_correlation(analysis))
    assert "Pearson r across parties (within a party: not computed)" in chart.texts()
    grid = next(
        g for g in chart.root.iter("{http://www.w3.org/2000/svg}g") if "translate" in g.get("transform", "")
    )
    fills = [r.get("fill") for r in grid if r.get("fill") != "none"]
    assert len(fills) == 16
    cell = {(i, j): fills[4 * i + j] for i in range(4) for j in range(4)}
    grey = cell[(0, 0)]
    assert all(cell[(i, j)] == grey for i in (0, 1) for j in (0, 1))  # insurer x insurer
    assert all(cell[(i, j)] == grey for i in (2, 3) for j in (2, 3))
    assert cell[(1, 2)] == cell[(2, 1)] == grey  # r unknown
    assert cell[(0, 2)] == cell[(2, 0)] and cell[(0, 3)] == cell[(3, 0)]

    def rgb(c: str) -> tuple[int, ...]:
        return tuple(int(c[k : k + 2], 16) for k in (1, 3, 5))

    red, blue, zero = rgb(cell[(0, 2)]), rgb(cell[(0, 3)]), rgb(cell[(1, 3)])
    assert red[0] > red[2] + 80 and blue[2] > blue[0] + 80  # r = 0.9 red, r = -0.95 blue
    assert min(zero) > 230 and rgb(grey) != zero  # r = 0 near white, unlike not computed
    assert {"1", "0", "-1", "not computed"} <= set(chart.texts())


def test_missing_rates_on_a_zero_to_one_axis_in_file_order(analysis: dict[str, Any]) -> None:
    chart = SvgChart(plot_missing(analysis))
    assert chart.titles() == {"title": "Missing rates", "x": "share of aligned rows missing"}
    ticks = chart.axis_labels("x")
    assert ticks[0][0] == "0" and ticks[-1][0] == "1"
    labels = sorted(chart.axis_labels("y"), key=lambda t: t[2])
    assert [t for t, _, _ in labels] == [f"{f['party']}: {f['name']}" for f in analysis["features"]]
    (bmi,) = [b for b in chart.series_bars()[0] if abs((b[1] + b[3]) / 2 - labels[1][2]) < 6]
    assert bmi[0] == pytest.approx(ticks[0][1], abs=0.5)
    assert bmi[2] - bmi[0] == pytest.approx(0.25 * (ticks[-1][1] - ticks[0][1]), rel=0.01)
