"""The plots of a finished job (ROC against the centralised baseline, training curve, what each party
contributed, where the time went), drawn from summary.json and the parties' model files only.

Charts are drawn with pygal (pure-Python SVG) and written as SVG into ``OUT/plots/``: PNG would
need cairosvg and its C library. Every file is self-contained and reproducible: no JavaScript, no
external style, font or image, a fixed chart id instead of pygal's random one and no generation
date, so the same summary gives the same bytes.
"""

from __future__ import annotations

import functools
import json
import math
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pygal
from pygal.etree import etree
from pygal.style import Style

from vfl.core.errors import DataError
from vfl.report.summary import fmt_metric, fmt_seconds

__all__ = [
    "FORMATS",
    "PLOTS_DIR",
    "PLOT_TITLES",
    "bar_panel",
    "chart",
    "coefficient_mass",
    "contribution_figure",
    "contributions",
    "loss_axis_label",
    "panels",
    "plot_contribution",
    "plot_roc",
    "plot_timing",
    "plot_training",
    "roc_figure",
    "svg_bytes",
    "svg_document",
    "svg_text",
    "timing_figure",
    "timing_parts",
    "training_figure",
    "training_series",
    "write_plots",
]

PLOTS_DIR = "plots"
FORMATS = ("svg",)
PLOT_TITLES = {
    "roc": "ROC: federated model against the centralised baseline",
    "training": "Training curve",
    "contribution": "What each party contributed",
    "timing": "Where the time went",
}
_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
_PART_COLOURS = {
    "psi": "#9467bd",
    "crypto": "#d62728",
    "compute": "#2ca02c",
    "network": "#1f77b4",
    "other": "#c7c7c7",
}
# crypto, compute and network are the label holder's split of its own training time (summary.json)
_PART_LABELS = {p: f"{p} (label holder)" for p in ("crypto", "compute", "network")}
SVG_NS = "http://www.w3.org/2000/svg"
_FONT = "'DejaVu Sans', 'Helvetica Neue', Helvetica, Arial, sans-serif"
_INK = "#222222"
# the same tree serialiser wherever the report is built (pygal prefers lxml when it is installed)
etree.to_etree()
# pygal appends an import hook for its map plugins that lacks find_spec: on Python 3.11 every
# import that fails after it (optional dependencies probed with try/except ImportError) then also
# raises an ImportWarning, an error under -W error. vfl draws no maps.
sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "PluginImportFixer"]


# ---- pygal charts as reproducible, self-contained SVG ------------------------------------------


_STYLE: dict[str, Any] = {
    "background": "#ffffff",
    "plot_background": "#ffffff",
    "foreground": _INK,
    "foreground_strong": _INK,
    "foreground_subtle": "#555555",
    "font_family": _FONT,
    "opacity": "1",
    "opacity_hover": "1",
    "stroke_opacity": "1",
    "stroke_opacity_hover": "1",
    "stroke_width": "2",
    "stroke_width_hover": "2",
    "transition": "0s",
    "guide_stroke_color": "#d0d0d0",
    "major_guide_stroke_color": "#d0d0d0",
    "label_font_size": 13,
    "major_label_font_size": 13,
    "value_font_size": 13,
    "title_font_size": 15,
    "legend_font_size": 13,
    "no_data_font_size": 16,
}


def _style(colours: Sequence[str], **overrides: Any) -> Style:
    return Style(**{**_STYLE, "colors": tuple(colours), **overrides})


class _LegendRows:
    """pygal leaves room for ``len(series) // columns`` legend rows below the chart, once per axis
    (so a 5-entry legend in 3 columns lost its second row): room for exactly the rows it draws."""

    def _compute_margin(self: Any) -> None:
        super()._compute_margin()  # type: ignore[misc]  # the pygal chart class it is mixed into
        if not (self.show_legend and self.legend_at_bottom and self.legend_at_bottom_columns):
            return
        h = max(self.style.legend_font_size, self.legend_box_size)
        groups = [g for g in (self.series, self.secondary_series) if g]
        pygal_rows = self._order // self.legend_at_bottom_columns
        drawn = -(-sum(len(g) for g in groups) // self.legend_at_bottom_columns)
        added = len(groups) * (self.spacing + h * round(pygal_rows - 1) * 1.5 + h)
        self.margin_box.bottom += self.spacing + h * (drawn - 1) * 1.5 + h - added


@functools.cache
def _with_legend_rows(kind: type) -> type:
    return type(kind.__name__, (_LegendRows, kind), {})


def chart(
    kind: Any,
    name: str,
    *,
    colours: Sequence[str] = _COLOURS,
    style: Mapping[str, Any] | None = None,
    **config: Any,
) -> Any:
    """A pygal chart of class ``kind`` in the report's style; ``name`` becomes its SVG id (pygal
    would draw a random one, and its styles are scoped by that id); ``style``: font sizes etc.
    that differ from the report's."""
    defaults: dict[str, Any] = {
        "js": [],  # pygal's tooltips are a script fetched from the web
        "explicit_size": True,
        "truncate_legend": -1,  # a legend names whose time or which series: never cut it
        "truncate_label": -1,
        "legend_at_bottom": True,
        "spacing": 12,
        "margin": 14,
    }
    c = _with_legend_rows(kind)(style=_style(colours, **(style or {})), **{**defaults, **config})
    c.uuid = name
    return c


def _tree(c: Any) -> Any:
    root = c.render_tree()
    for node in list(root):  # pygal's comments carry the date of drawing and pygal's web address
        if not isinstance(node.tag, str):
            root.remove(node)
    for defs in root.iter("defs"):  # the script pygal adds even without js: its config, as JSON
        for node in defs.findall("script"):
            defs.remove(node)
    return root


def svg_document(root: Any) -> bytes:
    """An SVG element tree as a file's bytes."""
    return b"<?xml version='1.0' encoding='utf-8'?>\n" + etree.tostring(root, encoding="utf-8")


def svg_bytes(c: Any) -> bytes:
    """The chart as a standalone SVG file's bytes."""
    return svg_document(_tree(c))


def panels(name: str, title: str, charts: Iterable[Any], *, cols: int | None = None) -> bytes:
    """Charts side by side (``cols`` a row) under one title, as one SVG file: pygal has no
    subplots. Each chart keeps its own id, so its styles apply to it alone."""
    trees = [_tree(c) for c in charts]
    cols = cols or max(len(trees), 1)
    width = [float(t.get("width")) for t in trees]
    height = [float(t.get("height")) for t in trees]
    head = 40.0 if title else 0.0
    rows = [list(range(i, min(i + cols, len(trees)))) for i in range(0, len(trees), cols)]
    total_w = max((sum(width[i] for i in row) for row in rows), default=200.0)
    tops, y = [], head
    for row in rows:
        tops.append(y)
        y += max(height[i] for i in row)
    root = etree.Element("svg", xmlns=SVG_NS)
    root.attrib.update(
        {
            "id": f"chart-{name}",
            "width": f"{total_w:g}",
            "height": f"{y:g}",
            "viewBox": f"0 0 {total_w:g} {y:g}",
        }
    )
    etree.SubElement(root, "title").text = title
    etree.SubElement(root, "rect", width="100%", height="100%", fill="#ffffff")
    if title:
        svg_text(root, title, total_w / 2, 26, size=16, anchor="middle")
    for row, top in zip(rows, tops, strict=True):
        x = 0.0
        for i in row:
            trees[i].attrib.update({"x": f"{x:g}", "y": f"{top:g}"})
            root.append(trees[i])
            x += width[i]
    return svg_document(root)


def svg_text(
    parent: Any, s: str, x: float, y: float, *, size: float = 13, anchor: str = "start", **attrs: str
) -> Any:
    """A text node in the report's font (outside pygal's styled charts)."""
    node = etree.SubElement(parent, "text")
    node.attrib.update(
        {
            "x": f"{x:.2f}",
            "y": f"{y:.2f}",
            "font-family": _FONT,
            "font-size": f"{size:g}",
            "fill": _INK,
            "text-anchor": anchor,
            **attrs,
        }
    )
    node.text = s
    return node


def _write(svg: bytes, stem: Path) -> list[Path]:
    path = stem.with_suffix(".svg")
    path.write_bytes(svg)
    return [path]


# ---- what the plots show (also used by the HTML report's tables) ------------------------------


def _active_stats(summary: Mapping[str, Any]) -> dict[str, Any]:
    active = summary.get("active")
    return dict((summary.get("fit_stats") or {}).get(active, {})) if active else {}


def training_series(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The label holder's training record: {"unit": "epoch"|"tree", "loss": [...], "val_loss": [...],
    "seconds": {part: [...per round]}}; empty lists where the model does not record them."""
    stats = _active_stats(summary)
    if "loss_history" in stats:  # LR
        return {
            "unit": "epoch",
            "loss": list(stats.get("loss_history") or []),
            "val_loss": list(stats.get("val_loss_history") or []),
            "seconds": {},
            "metric": "log-loss",
        }
    trees = list(stats.get("trees") or [])
    parts = ("crypto", "compute", "network")
    return {
        "unit": "tree",
        "metric": stats.get("loss_metric", "loss"),
        "loss": [t["loss"] for t in trees if "loss" in t],
        "val_loss": [t["val_loss"] for t in trees if "val_loss" in t],
        "seconds": {p: [float(t.get("seconds", {}).get(p, 0.0)) for t in trees] for p in parts if trees},
    }


def coefficient_mass(out_dir: Path, parties: list[str]) -> dict[str, float]:
    """LR: sum of |w| over each party's standardised features, from its own OUT/NAME/model.json."""
    mass = {}
    for name in parties:
        path = out_dir / name / "model.json"
        if not path.is_file():
            continue
        try:
            doc = json.loads(path.read_text())
            # vfl.model-file/v1 wraps the party's part; older files are the part itself
            weights = (doc["part"] if "part" in doc else doc)["weights"]
            mass[name] = float(np.abs(np.asarray(weights, dtype=np.float64)).sum())
        except (ValueError, KeyError, TypeError) as exc:
            raise DataError(
                f"{path} is not an LR model part ({exc})",
                "point at the output folder written by `vfl simulate --model lr`",
            ) from exc
    return mass


def contributions(out_dir: Path, summary: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """Per party: SBT {"gain_share", "splits"} from the label holder's stats; LR {"coef_mass",
    "coef_share"} from the model parts. Empty when there is no model."""
    parties = list(summary.get("parties") or {})
    contribution = _section(summary, "contribution")
    if contribution == "gain":
        stats = _active_stats(summary)
        share, splits = stats.get("gain_share") or {}, stats.get("splits") or {}
        return {
            p: {"gain_share": float(share.get(p, 0.0)), "splits": float(splits.get(p, 0))}
            for p in parties
            if p in share or p in splits
        }
    if contribution == "coefficients":
        mass = coefficient_mass(out_dir, parties)
        total = sum(mass.values()) or 1.0
        return {p: {"coef_mass": m, "coef_share": m / total} for p, m in mass.items()}
    return {}


def _section(summary: Mapping[str, Any], name: str) -> Any:
    """The report section the run's model kind asked for (the registry writes them to the summary)."""
    return (summary.get("report") or {}).get(name)


def timing_parts(summary: Mapping[str, Any]) -> dict[str, float]:
    """The job's wall time as psi / crypto / compute / network / other (other = the rest of the
    total: set-up, scoring, unaccounted training time). Parts the run did not measure are 0."""
    secs = summary.get("seconds") or {}
    parts = {k: float(secs.get(k) or 0.0) for k in ("psi", "crypto", "compute", "network")}
    parts["other"] = max(float(secs.get("total") or 0.0) - sum(parts.values()), 0.0)
    return parts


# ---- drawing ---------------------------------------------------------------------------------


def _ticks(n: int) -> dict[str, Any]:
    """Integer labels 1..n on the x axis, about ten of them shown (each one where they fit)."""
    every = max(1, -(-n // 12))
    return {
        "x_labels": [str(i) for i in range(1, n + 1)],
        "x_labels_major_every": every,
        "show_minor_x_labels": every == 1,
    }


def plot_roc(curves: Mapping[str, Mapping[str, Any]], stem: Path) -> list[Path]:
    """One line per curve (``{"fpr": [...], "tpr": [...], "auc"?: float}``), e.g. model and baseline."""
    return _write(svg_bytes(roc_figure(curves)), stem)


def roc_figure(curves: Mapping[str, Mapping[str, Any]]) -> Any:
    """The ROC chart, unrendered."""
    styles = {"model": ("#1f77b4", None), "baseline": ("#ff7f0e", "8, 5")}
    series: list[tuple[str, list[tuple[float, float]], str, str | None]] = [
        ("chance", [(0.0, 0.0), (1.0, 1.0)], "#999999", "2, 4")
    ]
    for i, (name, c) in enumerate(curves.items()):
        fpr, tpr = list(c["fpr"]), list(c["tpr"])
        if len(fpr) != len(tpr) or len(fpr) < 2:
            raise DataError(
                f"ROC curve {name!r} has {len(fpr)} fpr and {len(tpr)} tpr points",
                "write curves with vfl.report.curves.roc_points",
            )
        colour, dash = styles.get(name, (_COLOURS[(i + 2) % len(_COLOURS)], None))
        label = {"model": "federated", "baseline": "centralised baseline"}.get(name, name)
        if c.get("auc") is not None:
            label += f" (AUC {fmt_metric(c['auc'])})"
        series.append((label, [(float(x), float(y)) for x, y in zip(fpr, tpr, strict=True)], colour, dash))
    split = next((c.get("split") for c in curves.values() if c.get("split")), None)
    ticks = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    fig = chart(
        pygal.XY,
        "roc",
        colours=[s[2] for s in series],
        width=560,
        height=620,
        title="ROC" + (f" ({split} rows)" if split else ""),
        x_title="false positive rate",
        y_title="true positive rate",
        xrange=(0, 1),
        range=(0, 1.01),
        x_labels=ticks,
        y_labels=ticks,
        value_formatter=lambda v: f"{v:.1f}",
        x_value_formatter=lambda v: f"{v:.1f}",
        show_dots=False,
        legend_at_bottom_columns=1,
    )
    for label, points, _, dash in series:
        fig.add(label, points, stroke_style={"width": 1.2 if label == "chance" else 2.2, "dasharray": dash})
    return fig


def plot_training(series: Mapping[str, Any], stem: Path) -> list[Path]:
    """Loss per epoch/tree where recorded; per-round crypto/compute/network seconds as bars."""
    return _write(svg_bytes(training_figure(series)), stem)


def _round_step(lo: float, hi: float, steps: int) -> tuple[float, float]:
    """The smallest step of 1, 2, 2.5 or 5 times a power of ten, and a start at a multiple of it,
    with which ``steps`` steps cover [lo, hi]."""
    span = (hi - lo) or abs(hi) or 1.0
    exp = math.floor(math.log10(span / steps))
    for e in range(exp, exp + 3):
        for m in (1.0, 2.0, 2.5, 5.0):
            step = m * 10.0**e
            low = math.floor(lo / step) * step
            if low + step * steps >= hi:
                return step, low
    return span / steps, lo


def _covering_ticks(lo: float, hi: float, n: int = 6) -> list[float]:
    """Round numbers from at most ``lo`` to at least ``hi``, at most about ``n`` steps apart."""
    step, _ = _round_step(0.0, (hi - lo) or abs(hi) or 1.0, n)
    low = math.floor(lo / step + 1e-9) * step
    count = math.ceil((hi - low) / step - 1e-9)
    return [round(low + i * step, 10) for i in range(max(count, 1) + 1)]


def _round_ticks(hi: float, n: int = 6) -> list[float]:
    """0 and round numbers up to at least ``hi``, about ``n`` of them."""
    step, _ = _round_step(0.0, hi, n - 1)
    return [round(i * step, 10) for i in range(math.ceil(hi / step - 1e-9) + 1)]


class _BarsAndLines(pygal.StackedBar):
    """Stacked bars on the left axis and lines through the bars' centres on the right one, each
    axis with its title: pygal draws the secondary series of a bar chart as (halved) bars."""

    _self_close = False  # read by pygal.Line.line
    _series_margin = 0.16  # bars 70 % of their slot, as matplotlib drew them
    right_title = ""
    secondary_series: list[Any]  # pygal's, set while drawing

    def _compute_secondary(self) -> None:
        """The right axis at round numbers on the left axis's grid lines (pygal maps the lines'
        stacked sums from their minimum onto it, so its labels read 0.2317, 0.2593...)."""
        if not (self.secondary_series and self._y_labels):
            return
        pos = [p for _, p in self._y_labels]
        steps = max(len(pos) - 1, 1)
        values = self._secondary_values
        lo, hi = min(values), max(values)
        step, low = _round_step(lo, hi, steps)
        self._y_2nd_labels = [(self._y_format(low + i * step), p) for i, p in enumerate(pos)]
        self._scale = abs(pos[-1] - pos[0]) / (step * steps)
        self._scale_diff, self._scale_min_2nd = pos[0], low

    def _compute_margin(self) -> None:
        super()._compute_margin()  # type: ignore[misc]  # the pygal chart class it is mixed into
        if self.right_title and self.secondary_series:
            self.margin_box.right += self.style.title_font_size + self.spacing

    def _make_y_title(self) -> None:
        super()._make_y_title()
        if self.right_title and self.secondary_series:
            x, yc = self.width - self.spacing, self.margin_box.top + self.view.height / 2
            node = self.svg.node(self.nodes["title"], "text", class_="title", x=x, y=yc)
            node.attrib["transform"] = f"rotate(-90 {x:f} {yc:f})"
            node.text = self.right_title

    def _plot(self) -> None:
        lines, self.secondary_series = self.secondary_series, []  # bars at full width
        for serie in self.series:
            self.bar(serie)
        self.secondary_series = lines
        for serie in lines:
            serie.points = [((i + 0.5) / self._len, v) for i, v in enumerate(serie.values)]
            pygal.Line.line(self, serie, rescale=True)


def training_figure(series: Mapping[str, Any]) -> Any:
    """The training chart, unrendered (its tests check its axes and where the legend lies)."""
    unit, loss, val = series["unit"], series.get("loss") or [], series.get("val_loss") or []
    secs = {k: v for k, v in (series.get("seconds") or {}).items() if v}
    metric = series.get("metric", "loss")
    loss_title = loss_axis_label(metric, validation=bool(val)) if loss else ""
    lines: list[tuple[str, list[Any], str, str | None]] = (
        [(f"training {metric}", loss, "#000000", None)] if loss else []
    )
    if loss and val:
        lines.append((f"validation {metric}", val, "#7f7f7f", "7, 4"))
    n = max([len(loss), len(val), *(len(v) for v in secs.values())], default=0)
    common: dict[str, Any] = {
        "width": 640,
        "height": 470,
        "title": f"Training per {unit}",
        "x_title": unit,
        "no_data_text": "no per-round record in this run",
        "value_formatter": lambda v: f"{v:.3g}",
        "dots_size": 3.5 if n <= 40 else 0,
        "show_dots": n <= 40,
        "show_x_guides": False,
        **_ticks(n),
    }
    if secs:
        colours = [_PART_COLOURS.get(p, _COLOURS[i % len(_COLOURS)]) for i, p in enumerate(secs)]
        fig = chart(
            _BarsAndLines,
            "training",
            style={"title_font_size": 14},
            colours=[*colours, *(c for _, _, c, _ in lines)],
            y_title="seconds at the label holder",
            legend_at_bottom_columns=3,
            **common,
        )
        fig.right_title = loss_title
        for part, values in secs.items():
            fig.add(f"{part} s", [float(v) for v in values])
    else:
        values = [float(v) for _, vs, _, _ in lines for v in vs]
        if values:  # round numbers on the loss axis, its lines clear of the top and bottom
            common["y_labels"] = _covering_ticks(min(values), max(values))
        fig = chart(
            pygal.Line,
            "training",
            style={"title_font_size": 14},
            colours=[c for _, _, c, _ in lines] or _COLOURS,
            y_title=loss_title,
            legend_at_bottom_columns=max(len(lines), 1),
            **common,
        )
    for label, values, _, dash in lines:
        fig.add(
            label,
            [float(v) for v in values],
            secondary=bool(secs),
            stroke_style={"width": 2, "dasharray": dash},
        )
    return fig


def loss_axis_label(metric: str, *, validation: bool) -> str:
    """The loss axis names every series drawn on it (it said "training" over validation loss too)."""
    return f"{metric} (training and validation)" if validation else f"training {metric}"


class _Bars(pygal.Bar):
    """pygal's bars with the printed values clear of the bar's top (pygal sets them on its edge)."""

    def _static_value(
        self, serie_node: Any, value: Any, x: float, y: float, *args: Any, **kwargs: Any
    ) -> None:
        super()._static_value(serie_node, value, x, y - 0.4 * self.style.value_font_size, *args, **kwargs)


def bar_panel(
    name: str,
    title: str,
    labels: Sequence[str],
    values: Sequence[float | None],
    colours: Sequence[str],
    **config: Any,
) -> Any:
    """One bar per label, each in its own colour (a panel of :func:`panels`)."""
    fig = chart(_Bars, name, title=title, show_legend=False, x_labels=list(labels), **config)
    fig.add(
        title, [None if v is None else {"value": v, "color": c} for v, c in zip(values, colours, strict=True)]
    )
    return fig


def plot_contribution(contrib: Mapping[str, Mapping[str, float]], stem: Path) -> list[Path]:
    """SBT: gain share and split count per party; LR: coefficient mass share per party."""
    return _write(contribution_figure(contrib), stem)


def contribution_figure(contrib: Mapping[str, Mapping[str, float]]) -> bytes:
    """The contribution panels as SVG bytes."""
    parties = list(contrib)
    colours = [_COLOURS[i % len(_COLOURS)] for i in range(len(parties))]
    first = next(iter(contrib.values()), {})
    pct: Callable[[float], str] = lambda v: f"{v:.1%}"  # noqa: E731
    count: Callable[[float], str] = lambda v: f"{v:.0f}"  # noqa: E731
    specs: list[tuple[str, str, Callable[[float], str], Callable[[float], str]]] = (
        [
            ("gain_share", "share of split gain", pct, lambda v: f"{v:.0%}"),
            ("splits", "splits owned", count, count),
        ]
        if "gain_share" in first
        else [("coef_share", "share of sum |w| (standardised features)", pct, lambda v: f"{v:.0%}")]
    )
    charts = []
    for key, label, fmt, axis in specs:
        values = [float(contrib[p][key]) for p in parties]
        charts.append(
            bar_panel(
                f"contribution-{key}",
                label,
                parties,
                values,
                colours,
                width=330 if len(specs) > 1 else 440,
                height=360,
                range=(0, 1.15 * max([*values, 1e-12])),
                print_values=True,
                print_values_position="top",
                formatter=fmt,
                value_formatter=axis,
                show_x_guides=False,
            )
        )
    return panels("contribution", "Contribution per party", charts)


def plot_timing(parts: Mapping[str, float], stem: Path, *, total: float | None = None) -> list[Path]:
    """One stacked bar of the job's wall time; a note when the measured parts exceed ``total``
    (parts measured at different parties, or waits that overlap, can add up to more)."""
    return _write(svg_bytes(timing_figure(parts, total=total)), stem)


class _Timeline(pygal.HorizontalStackedBar):
    """One stacked horizontal bar, thinner than pygal's (room above it for the note), and a
    dashed line at the wall time when the parts add up to more."""

    _series_margin = 0.22
    wall: float | None = None
    note = ""

    def _plot(self) -> None:
        super()._plot()
        if self.wall is not None and self.note:
            x = self.view.y(self.wall)  # the value axis of a horizontal chart
            self.svg.node(
                self.nodes["plot"],
                "path",
                d=f"M{x:f} 0 v{self.view.height:f}",
                style="stroke:#000000;stroke-width:1.2;stroke-dasharray:5,3;fill:none",
            )
            node = self.svg.node(
                self.nodes["text_overlay"], "text", x=self.view.width - 6, y=self.style.label_font_size + 4
            )
            node.attrib.update(
                {"text-anchor": "end", "style": f"font-size:{self.style.label_font_size - 1}px"}
            )
            node.text = self.note


def timing_figure(parts: Mapping[str, float], *, total: float | None = None) -> Any:
    """The timing chart, unrendered (its tests check that the legend fits below a wide bar)."""
    measured = float(sum(parts.values()))
    total = measured if total is None else float(total)
    fig = chart(
        _Timeline,
        "timing",
        colours=[_PART_COLOURS.get(p, _COLOURS[i % len(_COLOURS)]) for i, p in enumerate(parts)],
        width=660,
        height=330,
        title=f"Wall time {fmt_seconds(total)}",
        x_title="seconds",
        x_labels=[""],
        show_y_labels=False,
        legend_at_bottom_columns=2,
        value_formatter=lambda v: f"{v:g}",
        y_labels=_round_ticks(max(measured, total) or 1.0, 8),
    )
    if measured > total * 1.01:
        fig.wall = total
        fig.note = f"measured parts add up to {measured:.1f} s, more than the wall time: they overlap"
    for part, v in parts.items():
        fig.add(f"{_PART_LABELS.get(part, part)} {fmt_seconds(v)}", [float(v)])
    return fig


def write_plots(out_dir: Path, summary: Mapping[str, Any]) -> list[Path]:
    """Every plot the run's records allow, as OUT/plots/NAME.svg; returns the files written.

    ROC needs ``summary["curves"]`` (see :mod:`vfl.report.curves`); training and contribution
    plots need a trained model; timing is always drawn.
    """
    out_dir = Path(out_dir)
    d = out_dir / PLOTS_DIR
    d.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    curves = summary.get("curves") or {}
    if curves:
        written += plot_roc(curves, d / "roc")
    if summary.get("model", "none") != "none":  # summary.json's name for an alignment-only job
        written += plot_training(training_series(summary), d / "training")
        contrib = contributions(out_dir, summary)
        if contrib:
            written += plot_contribution(contrib, d / "contribution")
    total = (summary.get("seconds") or {}).get("total")
    written += plot_timing(timing_parts(summary), d / "timing", total=total)
    return written
