"""The analysis page of ``vfl analyze``: IV per feature per party, WOE per bin of the top features,
the cross-party correlation heatmap, missing rates, the selection and (when fitted) the
scorecard's points table, drawn from ``analysis.json`` alone.

Charts are pygal SVG in the report's style (:mod:`vfl.report.plots`; the heatmap, which pygal
does not draw, is built here) and embedded in ``OUT/analysis.html`` as SVG data URIs, so the
page is one file.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from html import escape
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pygal
from pygal.etree import etree

from vfl.core.errors import DataError
from vfl.report.plots import SVG_NS, bar_panel, chart, panels, svg_bytes, svg_document, svg_text

__all__ = [
    "ANALYSIS_PAGE",
    "build_analysis_page",
    "correlation_matrix",
    "plot_correlation",
    "plot_iv",
    "plot_missing",
    "plot_woe",
    "render_analysis",
]

ANALYSIS_PAGE = "analysis.html"
_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
_CSS = (
    "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}"
    "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px}"
    "td.n{text-align:right;font-variant-numeric:tabular-nums}figure{margin:1.5em 0}"
    "img{max-width:100%}"
)
# RdBu reversed (matplotlib's RdBu_r): r = -1 dark blue, 0 near white, +1 dark red
_DIVERGING = (
    "#053061",
    "#2166ac",
    "#4393c3",
    "#92c5de",
    "#f7f7f7",
    "#f4a582",
    "#d6604d",
    "#b2182b",
    "#67001f",
)
_NOT_COMPUTED = "#e0e0e0"


def _colour(parties: list[str], party: str) -> str:
    return _COLOURS[parties.index(party) % len(_COLOURS)]


def _per_party_bars(
    name: str, a: Mapping[str, Any], feats: list[Mapping[str, Any]], key: str, **config: Any
) -> bytes:
    """Horizontal bars, one a feature, ``feats[0]`` on top, each in its party's colour: one
    pygal series a party (its legend names the parties), zero where another party owns it."""
    parties = list(a["parties"])
    fig = chart(
        pygal.HorizontalStackedBar,
        name,
        colours=[_colour(parties, p) for p in parties],
        width=760,
        height=max(240, 22 * len(feats) + 150),
        x_labels=[f"{f['party']}: {f['name']}" for f in reversed(feats)],  # pygal's first is the lowest
        legend_at_bottom_columns=max(1, min(len(parties), 4)),
        value_formatter=lambda v: f"{v:.3g}",
        show_y_guides=False,
        **config,
    )
    for p in parties:
        fig.add(p, [float(f.get(key) or 0.0) if f["party"] == p else None for f in reversed(feats)])
    return svg_bytes(fig)


def plot_iv(a: Mapping[str, Any]) -> bytes:
    """Horizontal bars of every feature's IV, highest on top, coloured by party (SVG)."""
    feats = sorted(a["features"], key=lambda f: -f["iv"])
    return _per_party_bars("iv", a, feats, "iv", title="IV per feature", x_title="information value")


def _bin_labels(f: Mapping[str, Any]) -> list[str]:
    edges = f.get("edges")
    k = int(f["n_bins"]) - 1  # present-value bins
    if edges is None:
        return [f"bin {i}" for i in range(k)] + ["missing"]
    lab = [f"< {edges[0]:.3g}"] if edges else ["all"]
    lab += [f"[{lo:.3g}, {hi:.3g})" for lo, hi in pairwise(edges)]
    if edges:
        lab.append(f">= {edges[-1]:.3g}")
    return [*lab, "missing"]


def plot_woe(a: Mapping[str, Any], top: int = 6) -> bytes:
    """WOE per bin of the ``top`` features by IV, one panel each, two a row (SVG)."""
    feats = sorted(a["features"], key=lambda f: -f["iv"])[:top]
    parties = list(a["parties"])
    charts = []
    for i, f in enumerate(feats):
        woe = [None if w is None else float(w) for w in f["woe"]]
        charts.append(
            bar_panel(
                f"woe-{i}",
                f"{f['party']}: {f['name']} (IV {f['iv']:.3f})",
                _bin_labels(f),
                woe,
                [_colour(parties, f["party"])] * len(woe),
                width=460,
                height=300,
                y_title="WOE",
                x_label_rotation=-40,
                value_formatter=lambda v: f"{v:.2g}",
                show_x_guides=False,
                style={"label_font_size": 11, "title_font_size": 13},
            )
        )
    return panels("woe", "", charts, cols=2)


def correlation_matrix(a: Mapping[str, Any]) -> tuple[list[str], np.ndarray]:
    """Every feature (party order) and the cross-party r matrix; NaN within a party or unknown."""
    labels = [f"{f['party']}: {f['name']}" for f in a["features"]]
    pos = {(f["party"], f["name"]): i for i, f in enumerate(a["features"])}
    m = np.full((len(labels), len(labels)), np.nan)
    for c in a["correlation"]:
        i, j = pos[(c["a"]["party"], c["a"]["name"])], pos[(c["b"]["party"], c["b"]["name"])]
        if c["r"] is not None:
            m[i, j] = m[j, i] = c["r"]
    return labels, m


def _diverging(r: float) -> str:
    """The heatmap colour of r in [-1, 1]."""
    t = (min(max(r, -1.0), 1.0) + 1.0) / 2.0 * (len(_DIVERGING) - 1)
    i = min(int(t), len(_DIVERGING) - 2)
    lo, hi = (np.array([int(c[k : k + 2], 16) for k in (1, 3, 5)]) for c in _DIVERGING[i : i + 2])
    rgb = np.rint(lo + (hi - lo) * (t - i)).astype(int)
    return "#" + "".join(f"{v:02x}" for v in rgb)


def plot_correlation(a: Mapping[str, Any]) -> bytes:
    """The cross-party r heatmap (SVG, drawn here: pygal has no heatmap), with a colour bar."""
    labels, m = correlation_matrix(a)
    n = len(labels)
    title = "Pearson r across parties (within a party: not computed)"
    cell = min(28.0, max(9.0, 640.0 / max(n, 1)))
    font = min(12.0, max(7.0, cell * 0.8))
    label_w = 0.6 * font * max((len(s) for s in labels), default=1) + 8
    left, top = 14 + label_w, 44.0
    grid = n * cell
    width = left + grid + 140
    height = top + grid + label_w + 14
    root = etree.Element("svg", xmlns=SVG_NS)
    root.attrib.update(
        {
            "id": "chart-correlation",
            "width": f"{width:.0f}",
            "height": f"{height:.0f}",
            "viewBox": f"0 0 {width:.0f} {height:.0f}",
        }
    )
    etree.SubElement(root, "title").text = title
    etree.SubElement(root, "rect", width="100%", height="100%", fill="#ffffff")
    svg_text(root, title, left + grid / 2, 26, size=14, anchor="middle")
    cells = etree.SubElement(root, "g", transform=f"translate({left:.2f} {top:.2f})")
    for i in range(n):
        for j in range(n):
            r = m[i, j]
            etree.SubElement(
                cells,
                "rect",
                x=f"{j * cell:.2f}",
                y=f"{i * cell:.2f}",
                width=f"{cell:.2f}",
                height=f"{cell:.2f}",
                fill=_NOT_COMPUTED if np.isnan(r) else _diverging(float(r)),
            )
    etree.SubElement(cells, "rect", width=f"{grid:.2f}", height=f"{grid:.2f}", fill="none", stroke="#888888")
    for i, label in enumerate(labels):
        mid = (i + 0.5) * cell
        svg_text(root, label, left - 4, top + mid + 0.35 * font, size=font, anchor="end")
        x, y = left + mid + 0.35 * font, top + grid + 4
        svg_text(root, label, x, y, size=font, anchor="end", transform=f"rotate(-90 {x:.2f} {y:.2f})")
    # the colour bar: r from -1 (bottom) to 1 (top)
    bar_x, bar_h, steps = left + grid + 24, min(grid, 300.0), 40
    for k in range(steps):
        r = 1.0 - 2.0 * (k + 0.5) / steps
        etree.SubElement(
            root,
            "rect",
            x=f"{bar_x:.2f}",
            y=f"{top + k * bar_h / steps:.2f}",
            width="16",
            height=f"{bar_h / steps + 0.3:.2f}",
            fill=_diverging(r),
        )
    etree.SubElement(
        root,
        "rect",
        x=f"{bar_x:.2f}",
        y=f"{top:.2f}",
        width="16",
        height=f"{bar_h:.2f}",
        fill="none",
        stroke="#888888",
    )
    for r in (1.0, 0.5, 0.0, -0.5, -1.0):
        y = top + (1.0 - r) / 2.0 * bar_h
        svg_text(root, f"{r:g}", bar_x + 22, y + 4, size=11)
    svg_text(root, "r", bar_x + 8, top - 6, size=12, anchor="middle")
    etree.SubElement(
        root,
        "rect",
        x=f"{bar_x:.2f}",
        y=f"{top + bar_h + 12:.2f}",
        width="16",
        height="12",
        fill=_NOT_COMPUTED,
    )
    svg_text(root, "not computed", bar_x + 22, top + bar_h + 22, size=10)
    return svg_document(root)


def plot_missing(a: Mapping[str, Any]) -> bytes:
    """Each feature's share of aligned rows missing, in the file's order from the top (SVG)."""
    return _per_party_bars(
        "missing",
        a,
        list(a["features"]),
        "missing_rate",
        title="Missing rates",
        x_title="share of aligned rows missing",
        y_labels=[0.0, 0.2, 0.4, 0.6, 0.8, 1.0],
    )


def _img(svg: bytes, caption: str) -> str:
    data = base64.b64encode(svg).decode("ascii")
    return (
        f'<figure><img alt="{escape(caption)}" src="data:image/svg+xml;base64,{data}">'
        f"<figcaption>{escape(caption)}</figcaption></figure>"
    )


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{v:.4g}</td>' if isinstance(v, float) else f"<td>{escape(str(v))}</td>" for v in r
        )
        + "</tr>"
        for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _scorecard(a: Mapping[str, Any]) -> str:
    card = a.get("scorecard")
    if not card:
        return ""
    rows = [[p["party"], p["name"], p["bin"], float(p["woe"]), float(p["points"])] for p in card["points"]]
    return (
        f"<h2>Scorecard</h2><p>Base points {card['base_points']:.2f} (offset {card['offset']:.1f}, "
        f"factor {card['factor']:.3f}: {card['pdo']:g} points double the odds of a non-event). "
        "A row's score is the base points plus its bins' points.</p>"
        + _table(["party", "feature", "bin", "WOE", "points"], rows)
    )


def render_analysis(a: Mapping[str, Any]) -> str:
    """The whole page as HTML text."""
    ranked = sorted(a["features"], key=lambda f: -f["iv"])
    iv_rows = [
        [f["party"], f["name"], float(f["iv"]), float(f.get("missing_rate", 0.0)), int(f["n_bins"])]
        for f in ranked
    ]
    sel = a.get("selection", {})
    sel_rows = [[p, ", ".join(cols) or "(none)"] for p, cols in sel.get("features", {}).items()]
    label = a.get("label", {})
    body = (
        f"<h1>Federated feature analysis</h1><p>{len(a['parties'])} parties "
        f"({escape(', '.join(a['parties']))}); label holder {escape(str(a['active']))}; "
        f"{a['intersection']:,} aligned rows, {label.get('events', 0):,} events; HE {escape(a['he'])}; "
        f"bins of at least {a['settings']['min_count']} rows"
        + (
            f"; Laplace noise at epsilon {a['settings']['dp_epsilon']:g} per feature"
            if a["settings"].get("dp_epsilon")
            else ""
        )
        + ".</p>"
        + "<h2>Information value</h2>"
        + _img(plot_iv(a), "IV per feature, coloured by party")
        + _table(["party", "feature", "IV", "missing rate", "bins"], iv_rows)
        + "<h2>WOE per bin, top features</h2>"
        + _img(plot_woe(a), "WOE per bin of the features with the highest IV")
        + (
            "<h2>Correlation across parties</h2>"
            + _img(plot_correlation(a), "Pearson r of cross-party pairs")
            if a["correlation"]
            else ""
        )
        + "<h2>Missing rates</h2>"
        + _img(plot_missing(a), "Share of aligned rows missing per feature")
        + f"<h2>Selection</h2><p>IV at least {sel.get('iv_min', 0):g}; of two features with |r| above "
        f"{sel.get('max_abs_r', 1):g} the one with the higher IV.</p>"
        + _table(["party", "columns"], sel_rows)
        + _scorecard(a)
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>vfl analysis</title>"
        f"<style>{_CSS}</style></head><body>{body}</body></html>\n"
    )


def build_analysis_page(out_dir: Path) -> Path:
    """Write OUT/analysis.html from OUT/analysis.json; returns its path."""
    out_dir = Path(out_dir)
    src = out_dir / "analysis.json"
    try:
        a = json.loads(src.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read {src}: {exc}", "run `vfl analyze --out DIR` first") from exc
    path = out_dir / ANALYSIS_PAGE
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(render_analysis(a), encoding="utf-8")
    tmp.replace(path)
    return path
