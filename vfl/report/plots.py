"""The plots of a finished job (ROC against the centralised baseline, training curve, what each party
contributed, where the time went), drawn from summary.json and the parties' model files only.

Figures are built with matplotlib's object API on the Agg canvas (no pyplot, so no global backend
switch and no shared state between threads) and written as PNG and SVG into ``OUT/plots/``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from vfl.core.errors import DataError
from vfl.report.summary import fmt_metric, fmt_seconds

__all__ = [
    "FORMATS",
    "PLOTS_DIR",
    "PLOT_TITLES",
    "coefficient_mass",
    "contributions",
    "loss_axis_label",
    "plot_contribution",
    "plot_roc",
    "plot_timing",
    "plot_training",
    "timing_figure",
    "timing_parts",
    "training_figure",
    "training_series",
    "write_plots",
]

PLOTS_DIR = "plots"
FORMATS = ("png", "svg")
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
_SAVE_RC: dict[str, Any] = {"svg.hashsalt": "vfl", "svg.fonttype": "path", "font.size": 10}


def _figure(width: float = 6.4, height: float = 4.0) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, stem: Path) -> list[Path]:
    """PNG and SVG without timestamps, so the same summary gives the same files."""
    paths = []
    with mpl.rc_context(_SAVE_RC):  # type: ignore[arg-type]  # matplotlib's stubs list every key literally
        for fmt in FORMATS:
            path = stem.with_suffix(f".{fmt}")
            meta = {"Software": None} if fmt == "png" else {"Date": None, "Creator": None}
            fig.savefig(path, format=fmt, dpi=110, metadata=meta)
            paths.append(path)
    return paths


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


def plot_roc(curves: Mapping[str, Mapping[str, Any]], stem: Path) -> list[Path]:
    """One line per curve (``{"fpr": [...], "tpr": [...], "auc"?: float}``), e.g. model and baseline."""
    fig = _figure(5.2, 4.6)
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], color="#999999", linestyle=":", linewidth=1, label="chance")
    styles = {"model": ("#1f77b4", "-"), "baseline": ("#ff7f0e", "--")}
    for i, (name, c) in enumerate(curves.items()):
        fpr, tpr = list(c["fpr"]), list(c["tpr"])
        if len(fpr) != len(tpr) or len(fpr) < 2:
            raise DataError(
                f"ROC curve {name!r} has {len(fpr)} fpr and {len(tpr)} tpr points",
                "write curves with vfl.report.curves.roc_points",
            )
        colour, style = styles.get(name, (_COLOURS[(i + 2) % len(_COLOURS)], "-"))
        label = {"model": "federated", "baseline": "centralised baseline"}.get(name, name)
        if c.get("auc") is not None:
            label += f" (AUC {fmt_metric(c['auc'])})"
        ax.plot(fpr, tpr, color=colour, linestyle=style, linewidth=1.8, label=label)
    split = next((c.get("split") for c in curves.values() if c.get("split")), None)
    ax.set(
        xlim=(0, 1),
        ylim=(0, 1.01),
        xlabel="false positive rate",
        ylabel="true positive rate",
        title="ROC" + (f" ({split} rows)" if split else ""),
    )
    ax.set_aspect("equal")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=9)
    return _save(fig, stem)


def plot_training(series: Mapping[str, Any], stem: Path) -> list[Path]:
    """Loss per epoch/tree where recorded; per-round crypto/compute/network seconds as bars."""
    return _save(training_figure(series), stem)


def training_figure(series: Mapping[str, Any]) -> Figure:
    """The training plot, unsaved (its tests check where the legend lies)."""
    unit, loss, val = series["unit"], series.get("loss") or [], series.get("val_loss") or []
    secs = {k: v for k, v in (series.get("seconds") or {}).items() if v}
    fig = _figure(6.4, 4.0)
    ax = fig.add_subplot()
    if secs:
        rounds = np.arange(1, len(next(iter(secs.values()))) + 1)
        bottom = np.zeros(len(rounds))
        for part, values in secs.items():
            ax.bar(rounds, values, bottom=bottom, color=_PART_COLOURS.get(part), label=f"{part} s", width=0.6)
            bottom += np.asarray(values)
        ax.set_ylabel("seconds at the label holder")
        ax.set_xticks(rounds)
    lax = ax.twinx() if secs and loss else ax
    metric = series.get("metric", "loss")
    if loss:
        lax.plot(np.arange(1, len(loss) + 1), loss, marker="o", color="#000000", label=f"training {metric}")
        if val:
            lax.plot(
                np.arange(1, len(val) + 1),
                val,
                marker="s",
                linestyle="--",
                color="#7f7f7f",
                label=f"validation {metric}",
            )
        lax.set_ylabel(loss_axis_label(metric, validation=bool(val)))
    if not secs and not loss:
        ax.text(0.5, 0.5, "no per-round record in this run", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel(unit)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(f"Training per {unit}")
    ax.grid(alpha=0.3, axis="y")
    handles = [h for a in dict.fromkeys([ax, lax]) for h in a.get_legend_handles_labels()[0]]  # fixed order
    if handles:  # below the axes, outside them: inside, it covered a bar or the curve
        fig.legend(handles=handles, fontsize=9, loc="outside lower center", ncols=len(handles), frameon=False)
    return fig


def loss_axis_label(metric: str, *, validation: bool) -> str:
    """The loss axis names every series drawn on it (it said "training" over validation loss too)."""
    return f"{metric} (training and validation)" if validation else f"training {metric}"


def plot_contribution(contrib: Mapping[str, Mapping[str, float]], stem: Path) -> list[Path]:
    """SBT: gain share and split count per party; LR: coefficient mass share per party."""
    parties = list(contrib)
    colours = [_COLOURS[i % len(_COLOURS)] for i in range(len(parties))]
    first = next(iter(contrib.values()), {})
    panels: list[tuple[str, str, Callable[[float], str]]] = (
        [
            ("gain_share", "share of split gain", lambda v: f"{v:.1%}"),
            ("splits", "splits owned", lambda v: f"{v:.0f}"),
        ]
        if "gain_share" in first
        else [("coef_share", "share of sum |w| (standardised features)", lambda v: f"{v:.1%}")]
    )
    fig = _figure(3.4 * len(panels) + 1.0, 3.8)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (key, label, fmt) in zip(axes, panels, strict=True):
        values = [contrib[p][key] for p in parties]
        bars = ax.bar(parties, values, color=colours)
        ax.bar_label(bars, labels=[fmt(v) for v in values], fontsize=9)
        ax.set_title(label, fontsize=10)
        ax.margins(y=0.15)
        ax.grid(alpha=0.3, axis="y")
    fig.suptitle("Contribution per party")
    return _save(fig, stem)


def plot_timing(parts: Mapping[str, float], stem: Path, *, total: float | None = None) -> list[Path]:
    """One stacked bar of the job's wall time; a note when the measured parts exceed ``total``
    (parts measured at different parties, or waits that overlap, can add up to more)."""
    return _save(timing_figure(parts, total=total), stem)


def timing_figure(parts: Mapping[str, float], *, total: float | None = None) -> Figure:
    """The timing plot, unsaved (its tests check that the legend fits beside a visible bar)."""
    fig = _figure(7.0, 2.8)
    ax = fig.add_subplot()
    left = 0.0
    for part, v in parts.items():
        label = f"{_PART_LABELS.get(part, part)} {fmt_seconds(v)}"
        ax.barh([0], [v], left=left, color=_PART_COLOURS.get(part), label=label, height=0.5)
        left += v
    total = left if total is None else total
    ax.set_yticks([])
    ax.set_ylim(-0.4, 0.65)
    ax.set_xlabel("seconds")
    ax.set_title(f"Wall time {fmt_seconds(total)}")
    if left > total * 1.01:
        ax.axvline(total, color="#000000", linestyle="--", linewidth=1)
        ax.text(
            0.995,
            0.96,
            f"measured parts add up to {left:.1f} s, more than the wall time: they overlap",
            fontsize=8,
            ha="right",
            va="top",
            transform=ax.transAxes,
        )
    # three a row, outside the axes: five labels naming whose time they are, in one row, were
    # wider than the figure and squeezed the bar to nothing
    fig.legend(ncols=3, fontsize=8, loc="outside lower center", frameon=False)
    return fig


def write_plots(out_dir: Path, summary: Mapping[str, Any]) -> list[Path]:
    """Every plot the run's records allow, as OUT/plots/NAME.{png,svg}; returns the files written.

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
