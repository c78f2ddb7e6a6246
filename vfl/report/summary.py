"""The one-screen summary printed at the end of a job, rendered from summary.json's content so
that what a person reads and what scripts read can never disagree."""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table

__all__ = [
    "fmt_count",
    "fmt_metric",
    "fmt_seconds",
    "human_bytes",
    "print_summary",
    "render_summary",
    "time_parts",
]

# Who measured each of summary.json's ``seconds``: psi, train and total are the job's (the slowest
# party's), the rest only the label holder's split of its own training time.
_JOB_SECONDS = ("psi", "train", "total")


def _no_negative_zero(text: str) -> str:
    """``-0.0000`` (a tiny negative rounded away) reads as a real sign: print it as zero."""
    if text.lstrip("+-").strip("0.") == "" and text[:1] in "+-":
        return text[1:]
    return text


def fmt_metric(v: float, *, signed: bool = False) -> str:
    """Every metric, baseline and difference on the screen and in the report: 4 decimals."""
    return _no_negative_zero(f"{v:+.4f}" if signed else f"{v:.4f}")


def fmt_count(n: int) -> str:
    return f"{n:,}"


def fmt_seconds(v: float) -> str:
    return _no_negative_zero(f"{v:.1f}") + " s"


def time_parts(seconds: dict[str, float]) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """summary.json's seconds split into the job's (wall) times and the label holder's own."""
    job = [(k, float(v)) for k, v in seconds.items() if k in _JOB_SECONDS]
    own = [(k, float(v)) for k, v in seconds.items() if k not in _JOB_SECONDS]
    return job, own


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"  # pragma: no cover


def render_summary(s: dict[str, Any]) -> Panel:
    parties = Table(title="Parties", show_edge=False, expand=False)
    for col in ("party", "rows", "features", "label", "bytes sent"):
        parties.add_column(col, justify="right" if col in ("rows", "features", "bytes sent") else "left")
    for name, p in s["parties"].items():
        parties.add_row(
            name,
            fmt_count(p["rows"]),
            str(p["features"]),
            p.get("label") or "-",
            human_bytes(s.get("bytes_sent", {}).get(name, 0)),
        )
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column()
    facts.add_row("aligned rows", f"{s['intersection']:,} shared by all parties (private set intersection)")
    he = f" with {s['he']} encryption" if s.get("he") else ""
    device = f", plaintext compute on {s['device']}" if s.get("device", "cpu") != "cpu" else ""
    facts.add_row("model", f"{s.get('model')}{he}{device}")
    for k, v in (s.get("metrics") or {}).items():
        base = (s.get("baseline") or {}).get(k)
        versus = f"   (centralised baseline {fmt_metric(base)})" if base is not None else ""
        facts.add_row(k, fmt_metric(v) + versus)
    own = s.get("own_data_only") or {}
    if own:
        key = "test_auc" if all("test_auc" in v for v in own.values()) else "train_auc"
        facts.add_row(
            f"{key} alone",
            "   ".join(f"{p} {fmt_metric(v[key])}" for p, v in own.items())
            + "   (each party's columns only)",
        )
    vs = s.get("vs_own_data")
    if vs:
        style = "green" if vs.get("federated_is_better") else "yellow"
        facts.add_row("worth it?", f"[{style}]{vs['verdict']}[/{style}]")
        if vs.get("advice"):
            facts.add_row("", f"try: {vs['advice']}")
    job, own_time = time_parts(s.get("seconds") or {})
    facts.add_row("time", "   ".join(f"{k} {fmt_seconds(v)}" for k, v in job))
    if own_time:
        who = s.get("active") or "its"
        facts.add_row(
            "label holder", f"{who}'s own: " + "   ".join(f"{k} {fmt_seconds(v)}" for k, v in own_time)
        )
    return Panel(Group(facts, parties), title="vfl summary", expand=False)


def print_summary(s: dict[str, Any], console: Console | None = None) -> None:
    (console or Console()).print(render_summary(s))
