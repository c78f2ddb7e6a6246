"""One self-contained HTML page per run (OUT/report.html): the numbers of summary.json, formatted
as the summary screen formats them, and every plot inlined, so the file can be mailed or archived
alone. No scripts, no external fonts, styles or images.
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from html import escape
from pathlib import Path
from typing import Any

from vfl.core.errors import DataError
from vfl.report.plots import PLOT_TITLES, contributions, write_plots
from vfl.report.summary import fmt_count, fmt_metric, fmt_seconds, human_bytes, time_parts

__all__ = [
    "REPORT_NAME",
    "build_report",
    "dp_budget",
    "fmt_count",
    "fmt_metric",
    "fmt_seconds",
    "load_summary",
    "render_html",
]

REPORT_NAME = "report.html"
_CAPTIONS = {
    "roc": "Receiver operating characteristic of the federated model and of the centralised model "
    "trained on the pooled rows (which no real deployment could build).",
    "training": "The label holder's record per round: loss where the protocol records it, and where "
    "its time went (crypto, local compute, waiting on the network).",
    "contribution": "SecureBoost: share of the total split gain and number of splits each party owns. "
    "Logistic regression: share of the sum of absolute weights over standardised features.",
    "timing": "Wall time of the whole job split into PSI, and the label holder's crypto, compute and "
    "network time; other is the rest (set-up, scoring).",
}
_CSS = """
body{font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;margin:2rem auto;max-width:1100px;
color:#1d1d1f;padding:0 1rem;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd;
padding-bottom:.2rem}.sub{color:#666;margin-top:0}
.cards{display:flex;gap:1rem;flex-wrap:wrap}.card{border:1px solid #ddd;border-radius:8px;padding:.7rem 1rem;
min-width:180px}.card .v{font-size:1.4rem;font-weight:600}.card .k{color:#666;font-size:.85rem}
table{border-collapse:collapse;margin:.5rem 0}th,td{padding:.3rem .8rem;border-bottom:1px solid #eee;
text-align:left}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:.5rem 1rem .5rem 0;display:inline-block;vertical-align:top;width:calc(50% - 1rem)}
figure img{max-width:100%;height:auto;border:1px solid #eee}figcaption{color:#555;font-size:.85rem;
max-width:640px}.better{color:#1a7f37}.worse{color:#b35900}code{background:#f4f4f4;padding:0 .2rem}
"""


# ---- reading ---------------------------------------------------------------------------------


def load_summary(out_dir: Path) -> dict[str, Any]:
    """OUT/summary.json, or an error that says which command writes it."""
    path = Path(out_dir) / "summary.json"
    if not path.is_file():
        raise DataError(
            f"no summary.json in {out_dir}",
            f"run `vfl simulate --out {out_dir}` first, or pass the folder it wrote",
        )
    try:
        summary = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"{path} is not valid JSON ({exc})", "re-run the job to rewrite it") from exc
    if not isinstance(summary, dict):
        summary = {}
    missing = [k for k in ("parties", "intersection") if k not in summary]
    if missing:
        raise DataError(
            f"{path} lacks {', '.join(missing)}", "it was not written by `vfl simulate`; re-run it"
        )
    return summary


def dp_budget(summary: Mapping[str, Any]) -> dict[str, float] | None:
    """(epsilon, delta) spent, from ``summary["dp"]`` or else the label holder's fit stats."""
    dp = summary.get("dp")
    if dp and dp.get("epsilon") is not None:
        return {"epsilon": float(dp["epsilon"]), "delta": float(dp.get("delta") or 0.0)}
    stats = (summary.get("fit_stats") or {}).get(summary.get("active") or "", {})
    if stats.get("dp_epsilon") is not None:  # LR
        return {"epsilon": float(stats["dp_epsilon"]), "delta": float(stats.get("dp_delta") or 0.0)}
    sbt = stats.get("dp") or {}
    if sbt.get("epsilon") is not None:  # SecureBoost
        return {"epsilon": float(sbt["epsilon"]), "delta": float(sbt.get("delta") or 0.0)}
    return None


# ---- writing ---------------------------------------------------------------------------------


def _td(
    text: str, key: str | None = None, *, num: bool = False, title: str | None = None, cls: str = ""
) -> str:
    classes = " ".join(c for c in (cls, "n" if num else "") if c)
    attrs = "".join(
        [
            f' data-key="{escape(key)}"' if key else "",
            f' title="{escape(title)}"' if title else "",
            f' class="{classes}"' if classes else "",
        ]
    )
    return f"<td{attrs}>{escape(text)}</td>"


def _table(headers: Iterable[str], rows: Iterable[str], text_columns: int = 1) -> str:
    """Headers of the first ``text_columns`` columns, and those given as "=NAME", align left."""
    cells = []
    for i, h in enumerate(headers):
        left = i < text_columns or h.startswith("=")
        cells.append(("<th>" if left else '<th class="n">') + escape(h.removeprefix("=")) + "</th>")
    head = "".join(cells)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _card(value: str, label: str, key: str) -> str:
    return (
        f'<div class="card"><div class="v" data-key="{key}">{escape(value)}</div>'
        f'<div class="k">{escape(label)}</div></div>'
    )


def _parties(s: Mapping[str, Any]) -> str:
    rows = []
    for name, p in s["parties"].items():
        sent = int((s.get("bytes_sent") or {}).get(name, 0))
        share = s["intersection"] / p["rows"] if p["rows"] else 0.0
        role = "label holder" if name == s.get("active") else ("passive" if s.get("active") else "-")
        rows.append(
            "<tr>"
            + "".join(
                [
                    _td(name, f"parties.{name}.name"),
                    _td(role),
                    _td(fmt_count(p["rows"]), f"parties.{name}.rows", num=True),
                    _td(str(p["features"]), f"parties.{name}.features", num=True),
                    _td(p.get("label") or "-", f"parties.{name}.label"),
                    _td(f"{share:.1%}", num=True),
                    _td(human_bytes(sent), f"bytes_sent.{name}", num=True, title=f"{sent:,} bytes"),
                ]
            )
            + "</tr>"
        )
    return _table(["party", "role", "rows", "features", "=label", "rows aligned", "bytes sent"], rows, 2)


def _metrics(s: Mapping[str, Any]) -> str:
    metrics, base = s.get("metrics") or {}, s.get("baseline") or {}
    if not metrics:
        return "<p>No model was trained (alignment only).</p>"
    rows = []
    for k, v in metrics.items():
        b = base.get(k)
        cells = [
            _td(k),
            _td(fmt_metric(v), f"metrics.{k}", num=True),
            _td(fmt_metric(b) if b is not None else "-", f"baseline.{k}", num=True),
        ]
        if b is not None:
            diff = v - b
            higher_is_better = not k.endswith("log_loss")
            cls = "better" if (diff >= 0) == higher_is_better else "worse"
            cells.append(_td(fmt_metric(diff, signed=True), num=True, cls=cls))
        else:
            cells.append(_td("-", num=True))
        rows.append("<tr>" + "".join(cells) + "</tr>")
    who = escape(str(base.get("model", "centralised model")))
    note = f'<p class="sub">Baseline: {who} on the same aligned rows and split.</p>'
    return _table(["metric", "federated", "centralised baseline", "difference"], rows) + note


def _timing(s: Mapping[str, Any]) -> str:
    """The job's times, then the label holder's own split of its training time, each row saying whose."""
    job, own = time_parts(s.get("seconds") or {})
    holder = s.get("active") or "label holder"
    rows = [
        f"<tr>{_td(k)}{_td(who)}{_td(fmt_seconds(v), f'seconds.{k}', num=True)}</tr>"
        for parts, who in ((job, "whole job"), (own, f"{holder} (label holder) only"))
        for k, v in parts
    ]
    return _table(["part", "measured over", "seconds"], rows, text_columns=2)


def _privacy(s: Mapping[str, Any]) -> str:
    rows = []
    psi = s.get("psi") or {}
    for k in ("protocol", "comparer", "dealer"):
        if psi.get(k):
            rows.append(f"<tr>{_td('PSI ' + k)}{_td(str(psi[k]), f'psi.{k}')}</tr>")
    if psi.get("scalar_mults") is not None:
        rows.append(
            f"<tr>{_td('PSI scalar multiplications')}"
            f"{_td(fmt_count(psi['scalar_mults']), 'psi.scalar_mults')}</tr>"
        )
    if s.get("he"):
        rows.append(f"<tr>{_td('homomorphic encryption')}{_td(str(s['he']), 'he')}</tr>")
    dp = dp_budget(s)
    if dp:
        eps, delta = f"{dp['epsilon']:.4g}", f"{dp['delta']:.3g}"
        rows.append(f"<tr>{_td('differential privacy ε')}{_td(eps, 'dp.epsilon')}</tr>")
        rows.append(f"<tr>{_td('differential privacy δ')}{_td(delta, 'dp.delta')}</tr>")
    else:
        rows.append(f"<tr>{_td('differential privacy')}{_td('not used', 'dp')}</tr>")
    return _table(["", ""], rows, text_columns=2)


def _contribution_table(out_dir: Path, s: Mapping[str, Any]) -> str:
    contrib = contributions(out_dir, s)
    if not contrib:
        return ""
    first = next(iter(contrib.values()))
    if "gain_share" in first:
        cols = [("gain_share", "{:.1%}", "share of split gain"), ("splits", "{:.0f}", "splits")]
    else:
        cols = [("coef_mass", "metric", "sum |w| (standardised)"), ("coef_share", "{:.1%}", "share")]
    rows = [
        "<tr>"
        + _td(p)
        + "".join(_td(_fmt(fmt, c[k]), f"contribution.{p}.{k}", num=True) for k, fmt, _ in cols)
        + "</tr>"
        for p, c in contrib.items()
    ]
    return _table(["party", *(h for _, _, h in cols)], rows)


def _fmt(fmt: str, v: float) -> str:
    return fmt_metric(v) if fmt == "metric" else fmt.format(v)


def _figure(svg: Path) -> str:
    data = base64.b64encode(svg.read_bytes()).decode("ascii")
    name = svg.stem
    title = PLOT_TITLES.get(name, name)
    return (
        f'<figure data-plot="{escape(name)}"><img alt="{escape(title)}" '
        f'src="data:image/svg+xml;base64,{data}"><figcaption><b>{escape(title)}.</b> '
        f"{escape(_CAPTIONS.get(name, ''))}</figcaption></figure>"
    )


def render_html(
    out_dir: Path, summary: Mapping[str, Any], plots: Iterable[Path], *, command: str = "vfl report"
) -> str:
    """The report page for ``summary``, with the SVG files among ``plots`` inlined; ``command`` is
    the one that built it, named in the footer."""
    s = summary
    metrics, base = s.get("metrics") or {}, s.get("baseline") or {}
    model = str(s.get("model_title") or s.get("model"))
    total_bytes = sum(int(v) for v in (s.get("bytes_sent") or {}).values())
    cards = [_card(fmt_count(s["intersection"]), "rows aligned by private set intersection", "intersection")]
    auc_key = "test_auc" if "test_auc" in metrics else "train_auc"
    if auc_key in metrics:
        vs = f" (baseline {fmt_metric(base[auc_key])})" if auc_key in base else ""
        label = auc_key.replace("_", " ") + vs
        cards.append(_card(fmt_metric(metrics[auc_key]), label, f"card.{auc_key}"))
    if "total" in (s.get("seconds") or {}):
        cards.append(_card(fmt_seconds(s["seconds"]["total"]), "wall time", "card.seconds.total"))
    cards.append(_card(human_bytes(total_bytes), "sent by all parties", "bytes_sent.total"))
    dataset = s.get("dataset")
    if not isinstance(dataset, str):
        dataset = ", ".join(f"{k}: {v}" for k, v in (dataset or {}).items())
    settings = (
        f"{len(s['parties'])} parties, label held by {s.get('active') or '-'}, "
        f"{s.get('he') or 'no'} encryption, {s.get('transport', '-')} transport, "
        f"test size {s.get('test_size', '-')}, seed {s.get('seed', '-')}"
    )
    figs = "".join(_figure(p) for p in plots if p.suffix == ".svg")
    body = f"""
<h1>{escape(model)}</h1>
<p class="sub">{escape(settings)}<br>Data: {escape(str(dataset))}</p>
<div class="cards">{"".join(cards)}</div>
<h2>Parties</h2>{_parties(s)}
<h2>Model quality against the centralised baseline</h2>{_metrics(s)}
<h2>Plots</h2>{figs or "<p>No plots.</p>"}
<h2>Time</h2>{_timing(s)}
<h2>Privacy</h2>{_privacy(s)}
<h2>Contribution per party</h2>{_contribution_table(Path(out_dir), s) or "<p>No model was trained.</p>"}
<p class="sub">Generated by <code>{escape(command)}</code> from <code>summary.json</code>; the plots are
also in <code>plots/</code> as SVG files. Rebuild this page with <code>vfl report OUT</code>.</p>"""
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>vfl report: {escape(model)}</title><style>{_CSS}</style></head>"
        f"<body>{body}</body></html>\n"
    )


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def build_report(out_dir: Path, *, command: str = "vfl report") -> Path:
    """Write OUT/plots/* and OUT/report.html from OUT/summary.json (and the parties' model files);
    returns the report's path. ``command``: the command building it (the page's footer says so)."""
    out_dir = Path(out_dir)
    summary = load_summary(out_dir)
    plots = write_plots(out_dir, summary)
    path = out_dir / REPORT_NAME
    _write_atomic(path, render_html(out_dir, summary, plots, command=command))
    return path
