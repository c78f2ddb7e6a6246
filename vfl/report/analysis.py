"""The analysis page of ``vfl analyze``: IV per feature per party, WOE per bin of the top features,
the cross-party correlation heatmap, missing rates, the selection and (when fitted) the
scorecard's points table, drawn from ``analysis.json`` alone.

Figures use matplotlib's object API on the Agg canvas (no pyplot, as :mod:`vfl.report.plots`)
and are embedded in ``OUT/analysis.html`` as PNG, so the page is one file.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Mapping
from html import escape
from itertools import pairwise
from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from vfl.core.errors import DataError

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
_RC: dict[str, Any] = {"font.size": 9}
_CSS = (
    "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}"
    "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px}"
    "td.n{text-align:right;font-variant-numeric:tabular-nums}figure{margin:1.5em 0}"
    "img{max-width:100%}"
)


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    with mpl.rc_context(_RC):  # type: ignore[arg-type]
        fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    return buf.getvalue()


def _colour(parties: list[str], party: str) -> str:
    return _COLOURS[parties.index(party) % len(_COLOURS)]


def plot_iv(a: Mapping[str, Any]) -> Figure:
    """Horizontal bars of every feature's IV, highest on top, coloured by party."""
    feats = sorted(a["features"], key=lambda f: f["iv"])
    fig = _figure(7.0, max(2.5, 0.22 * len(feats) + 1.0))
    ax = fig.add_subplot()
    parties = list(a["parties"])
    ax.barh(range(len(feats)), [f["iv"] for f in feats], color=[_colour(parties, f["party"]) for f in feats])
    ax.set_yticks(range(len(feats)), [f"{f['party']}: {f['name']}" for f in feats])
    ax.set_xlabel("information value")
    for p in parties:
        ax.bar(0, 0, color=_colour(parties, p), label=p)
    ax.legend(loc="lower right")
    ax.set_title("IV per feature")
    return fig


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


def plot_woe(a: Mapping[str, Any], top: int = 6) -> Figure:
    """WOE per bin of the ``top`` features by IV, one panel each."""
    feats = sorted(a["features"], key=lambda f: -f["iv"])[:top]
    cols = 2
    rows = max(1, (len(feats) + cols - 1) // cols)
    fig = _figure(9.0, 2.6 * rows)
    parties = list(a["parties"])
    for i, f in enumerate(feats):
        ax = fig.add_subplot(rows, cols, i + 1)
        woe = [np.nan if w is None else w for w in f["woe"]]
        ax.bar(range(len(woe)), woe, color=_colour(parties, f["party"]))
        ax.axhline(0, color="#444", lw=0.6)
        ax.set_xticks(range(len(woe)), _bin_labels(f), rotation=45, ha="right", fontsize=7)
        ax.set_title(f"{f['party']}: {f['name']} (IV {f['iv']:.3f})", fontsize=9)
        ax.set_ylabel("WOE")
    return fig


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


def plot_correlation(a: Mapping[str, Any]) -> Figure:
    labels, m = correlation_matrix(a)
    size = min(12.0, max(4.0, 0.25 * len(labels) + 2.0))
    fig = _figure(size + 1.0, size)
    ax = fig.add_subplot()
    im = ax.imshow(m, cmap="RdBu_r", vmin=-1, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=6)
    ax.set_yticks(range(len(labels)), labels, fontsize=6)
    ax.set_title("Pearson r across parties (within a party: not computed)")
    fig.colorbar(im, ax=ax, shrink=0.7)
    return fig


def plot_missing(a: Mapping[str, Any]) -> Figure:
    feats = a["features"]
    fig = _figure(7.0, max(2.5, 0.22 * len(feats) + 1.0))
    ax = fig.add_subplot()
    parties = list(a["parties"])
    ax.barh(
        range(len(feats)),
        [f.get("missing_rate", 0.0) for f in feats],
        color=[_colour(parties, f["party"]) for f in feats],
    )
    ax.set_yticks(range(len(feats)), [f"{f['party']}: {f['name']}" for f in feats])
    ax.set_xlim(0, 1)
    ax.invert_yaxis()
    ax.set_xlabel("share of aligned rows missing")
    ax.set_title("Missing rates")
    return fig


def _img(fig: Figure, caption: str) -> str:
    data = base64.b64encode(_png(fig)).decode("ascii")
    return (
        f'<figure><img alt="{escape(caption)}" src="data:image/png;base64,{data}">'
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
