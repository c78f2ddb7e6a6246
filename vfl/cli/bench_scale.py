"""``vfl bench scale``: PSI and training from 100k to millions of rows per party, local executor
and Ray."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from vfl.bench.scale import EXECUTOR_CHOICES, MODELS, STAGES, run_scale_bench
from vfl.cli.errors import friendly_errors
from vfl.runtime.store.atomic import write_json_atomic

__all__ = ["scale"]


def _ints(text: str) -> list[int]:
    return [int(float(x)) for x in text.split(",") if x.strip()]


@click.command("scale")
@click.option(
    "--rows", default="100000,300000,1000000", show_default=True, help="IDs per party, comma-separated."
)
@click.option(
    "--executors",
    default="local,ray1,ray2",
    show_default=True,
    help=f"Comma-separated, from {', '.join(EXECUTOR_CHOICES)} (rayK: K Ray workers per party).",
)
@click.option("--parties", type=int, default=2, show_default=True)
@click.option(
    "--cores", type=int, default=2, show_default=True, help="Cores of the local threads and local Ray."
)
@click.option(
    "--stream",
    is_flag=True,
    help="Two-party PSI with its lists on disk and IDs made batch by batch: peak RSS against n.",
)
@click.option(
    "--models",
    default=",".join(MODELS),
    show_default=True,
    help="Training stages after PSI, comma-separated ('' for PSI alone): SecureBoost (OU, 2 trees of "
    "depth 3) and LR (CKKS, 3 L-BFGS rounds) on default-credit rows drawn to the intersection's size.",
)
@click.option(
    "--out", "out_dir", type=click.Path(path_type=Path), default=Path("out/bench-scale"), show_default=True
)
@friendly_errors
def scale(rows, executors, parties, cores, stream, models, out_dir):  # type: ignore[no-untyped-def]
    """Wall time per stage (PSI, then training), peak RSS, bytes per party and growth exponents
    against n.

    \b
    Example:
      vfl bench scale --rows 100000,300000,1000000 --executors local,ray2
      vfl bench scale --stream --models '' --rows 100000,1000000,10000000 --executors local
    """
    names = [e.strip() for e in executors.split(",") if e.strip()]
    bad = [e for e in names if e not in EXECUTOR_CHOICES]
    if bad:
        raise click.BadParameter(f"unknown executors {bad}", param_hint="--executors")
    if stream and parties != 2:
        raise click.BadParameter("streaming PSI runs with two parties", param_hint="--parties")
    chosen = [m.strip() for m in models.split(",") if m.strip()]
    if set(chosen) - set(MODELS):
        raise click.BadParameter(f"unknown models {sorted(set(chosen) - set(MODELS))}", param_hint="--models")
    if stream and chosen:
        raise click.BadParameter(
            "the streaming point measures PSI alone: add --models ''", param_hint="--models"
        )
    result = run_scale_bench(_ints(rows), names, parties=parties, cores=cores, stream=stream, models=chosen)
    stages = [s for s in STAGES if s not in MODELS or s in chosen]
    t = Table(title=f"One job at scale ({parties} parties, {cores} cores; all parties in one process)")
    for c in (
        "executor",
        "rows/party",
        *(f"{s} s" for s in stages),
        "CPU s",
        "MiB sent/party",
        "peak RSS MiB",
        "note",
    ):
        t.add_column(c, justify="left" if c in ("executor", "note") else "right")
    for r in result["records"]:
        if "error" in r:
            t.add_row(r["executor"], f"{r['rows_per_party']:,}", *[""] * (len(stages) + 3), r["error"])
            continue
        rss = f"{r['peak_rss_mib_all_parties']:.0f}"
        if r["peak_rss_mib_ray_worker"]:
            rss += f" (+{r['peak_rss_mib_ray_worker']:.0f}/worker)"
        t.add_row(
            r["executor"],
            f"{r['rows_per_party']:,}",
            *(f"{r['seconds'][s]:.2f}" for s in stages),
            f"{r['cpu_seconds']:.1f}",
            f"{r['bytes_sent_per_party'] / 2**20:.1f}",
            rss,
            "" if r["correct"] else "WRONG intersection",
        )
    for ex, exps in result["growth_exponents"].items():
        if exps:
            t.add_row(
                ex, "exponent", *(f"{exps[s]:.2f}" for s in stages), "", "", "", "slope of log t on log n"
            )
    Console(width=None if sys.stdout.isatty() else 160).print(t)  # a log keeps every column
    for key, v in result["ray_overhead_vs_local"].items():
        trains = "".join(f", {m} {v[m]:+.0%}" for m in chosen if m in v)
        click.echo(
            f"{key}: PSI {v['wall']:+.0%} wall, {v['cpu']:+.0%} CPU seconds{trains} against local "
            "(same rows, cores, run)"
        )
    write_json_atomic(out_dir / "bench.json", {"bench": "scale", **result})
    click.echo(f"wrote {out_dir / 'bench.json'}")
