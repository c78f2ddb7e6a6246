"""``vfl analyze``: which columns of which party predict the label, how much (WOE/IV), and how
they overlap across parties (Pearson r), without any party showing a row. Only parsing and
printing live here; the job is vfl.runtime.analysis."""

from __future__ import annotations

from pathlib import Path

import click

from vfl.cli.errors import friendly_errors
from vfl.core.errors import ConfigError
from vfl.crypto.he import BACKENDS

__all__ = ["analyze", "bench_analyze"]


def _shares(items: tuple[str, ...]) -> dict[str, str]:
    from vfl.protocols.analysis import SHARE_POLICIES

    out: dict[str, str] = {}
    for item in items:
        name, sep, level = item.partition("=")
        if not sep or not name or level not in SHARE_POLICIES:
            raise ConfigError(f"--share {item!r} is not NAME=POLICY", f"POLICY: {', '.join(SHARE_POLICIES)}")
        out[name] = level
    return out


@click.command("analyze")
@click.option(
    "--data",
    "data",
    multiple=True,
    metavar="NAME=PATH",
    help="A party's file as NAME=PATH; repeat per party. Default: the embedded dataset.",
)
@click.option("--id-column", default=None, help="The ID column, identical at every party.")
@click.option("--label", default=None, metavar="NAME:COL", help="Which party holds the (binary) label.")
@click.option(
    "--job",
    "job_file",
    type=click.Path(path_type=Path),
    default=None,
    help="A TOML job file with [analysis], [data] and [share] (options given here win).",
)
@click.option("--he", type=click.Choice(BACKENDS), default=None, help="HE backend [default: ckks].")
@click.option(
    "--share",
    "share",
    multiple=True,
    metavar="NAME=POLICY",
    help="What a party lets leave it about its columns: nothing, counts (default) or quantiles; repeatable.",
)
@click.option("--max-bin", type=int, default=None, help="Quantile bins per feature before merging [10].")
@click.option("--min-count", type=int, default=None, help="Fewest rows any reported bin may hold [10].")
@click.option("--dp-epsilon", type=float, default=None, help="Laplace noise on the counts, per feature.")
@click.option("--no-correlation", is_flag=True, help="Skip the cross-party correlation step.")
@click.option(
    "--scorecard",
    is_flag=True,
    help="Also fit a scorecard: WOE transform per party, vertical LR, points per bin.",
)
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("out"), show_default=True)
@friendly_errors
def analyze(
    data,
    id_column,
    label,
    job_file,
    he,
    share,
    max_bin,
    min_count,
    dp_epsilon,
    no_correlation,
    scorecard,
    out_dir,
):
    """Federated feature analysis: statistics, WOE/IV and cross-party correlation.

    \b
    Writes OUT/analysis.json and OUT/analysis.html. Example:
      vfl analyze --data insurer=i.csv --data pharma=p.csv --id-column id --label insurer:y --out out
    """
    from rich.console import Console
    from rich.table import Table

    from vfl.protocols.analysis import AnalysisConfig
    from vfl.report.analysis import build_analysis_page
    from vfl.runtime.analysis import analyze as run_analysis
    from vfl.runtime.analysis import load_analysis_job

    job = load_analysis_job(job_file) if job_file else None
    settings = job.cfg.to_dict() if job else AnalysisConfig().to_dict()
    for key, value in (("max_bin", max_bin), ("min_count", min_count), ("dp_epsilon", dp_epsilon)):
        if value is not None:
            settings[key] = value
    if no_correlation:
        settings["correlation"] = False
    if scorecard:
        settings["scorecard"] = True
    shares = {**(job.shares if job else {}), **_shares(share)}
    result = run_analysis(
        data or (job.data if job else ()),
        id_column or (job.id_column if job else None),
        label or (job.label if job else None),
        out_dir,
        he=he or (job.he if job else "ckks"),
        cfg=AnalysisConfig(**settings),
        shares=shares,
    )
    page = build_analysis_page(out_dir)
    t = Table(title=f"IV per feature ({result['intersection']:,} aligned rows)")
    for c in ("party", "feature", "IV", "missing"):
        t.add_column(c, justify="left" if c in ("party", "feature") else "right")
    for f in sorted(result["features"], key=lambda f: -f["iv"])[:15]:
        t.add_row(f["party"], f["name"], f"{f['iv']:.4f}", f"{f['missing_rate']:.1%}")
    Console().print(t)
    click.echo(f"analysis: {out_dir / 'analysis.json'}   page: {page}")


@click.command("analyze")
@click.option(
    "--data",
    "data",
    multiple=True,
    metavar="NAME=PATH",
    help="A party's CSV (id column 'id'; one file holds label 'y'). "
    "Default: default_credit guest (active) + host (FATE split, shipped with vfl).",
)
@click.option("--he", "he", default="ckks,ou", show_default=True, help="Comma-separated HE schemes.")
@click.option("--correlation", is_flag=True, help="Also run the cross-party correlation step.")
@click.option(
    "--out", "out_dir", type=click.Path(path_type=Path), default=Path("out/bench-analyze"), show_default=True
)
@friendly_errors
def bench_analyze(data, he, correlation, out_dir):
    """IV of every feature, federated per HE scheme vs the same computation in plaintext.

    \b
    Example:
      vfl bench analyze --he ckks,ou
    """
    from rich.console import Console
    from rich.table import Table

    from vfl.bench.analyze import run_analyze_bench
    from vfl.bench.harness import default_data
    from vfl.cli.lists import name_list
    from vfl.runtime.modes.config import parse_data_options
    from vfl.runtime.store.atomic import write_json_atomic

    schemes = name_list(he)
    unknown = [s for s in schemes if s not in BACKENDS]
    if unknown or not schemes:
        raise ConfigError(f"--he {he!r}: unknown schemes {unknown}", f"choose from {', '.join(BACKENDS)}")
    records = run_analyze_bench(
        parse_data_options(data) if data else default_data(), schemes, correlation=correlation
    )
    t = Table(title="vfl analyze: IV of every feature")
    for c in ("system", "rows", "features", "seconds", "x plaintext", "max |dIV|"):
        t.add_column(c, justify="left" if c == "system" else "right")
    for r in records:
        ratio = r.get("ratio_to_plaintext")
        diff = r.get("max_abs_iv_difference")
        t.add_row(
            r["system"],
            f"{r['rows']:,}",
            str(r["features"]),
            f"{r['seconds']:.3f}",
            "" if ratio is None else f"{ratio:,.0f}",
            "" if diff is None else f"{diff:.1e}",
        )
    Console().print(t)
    write_json_atomic(out_dir / "bench.json", {"bench": "analyze", "records": records})
    click.echo(f"wrote {out_dir / 'bench.json'}")
