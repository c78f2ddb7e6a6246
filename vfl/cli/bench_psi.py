"""``vfl bench psi``: N-party PSI against this machine's floor and openmined-psi, in one run."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from vfl.bench.psi import run_psi_bench
from vfl.cli.errors import friendly_errors
from vfl.runtime.store.atomic import write_json_atomic

__all__ = ["bench_psi"]


@click.command("psi")
@click.option("--parties", type=int, default=3, show_default=True)
@click.option("--rows", type=int, default=100_000, show_default=True, help="IDs per party.")
@click.option("--overlap", type=float, default=0.8, show_default=True)
@click.option("--cores", type=int, default=2, show_default=True)
@click.option(
    "--baseline-rows",
    type=int,
    default=100_000,
    show_default=True,
    help="IDs per party for the 2-party openmined-psi comparison.",
)
@click.option("--openmined-python", default=None, help="Interpreter with openmined-psi installed.")
@click.option("--no-baseline", is_flag=True, help="Skip the openmined-psi comparison.")
@click.option(
    "--out", "out_dir", type=click.Path(path_type=Path), default=Path("out/bench-psi"), show_default=True
)
@friendly_errors
def bench_psi(parties, rows, overlap, cores, baseline_rows, openmined_python, no_baseline, out_dir):  # type: ignore[no-untyped-def]
    """N-party PSI throughput vs this machine's floor, and vs openmined-psi (2 parties).

    \b
    Example:
      vfl bench psi --parties 3 --rows 1000000 --overlap 0.8
    """
    records = run_psi_bench(
        parties,
        rows,
        overlap,
        cores=cores,
        baseline_rows=baseline_rows,
        openmined_python=openmined_python,
        baseline=not no_baseline,
    )
    t = Table(title="PSI benchmark")
    for c in ("system", "parties", "rows/party", "intersection", "seconds", "rows/s", "note"):
        t.add_column(c, justify="left" if c in ("system", "note") else "right")
    for r in records:
        if "error" in r:
            t.add_row(r["system"], "", "", "", "", "", f"not run: {r['error']} ({r['hint']})")
            continue
        note = ""
        if "ratio_to_floor" in r:
            note = (
                f"floor {r['floor_seconds']:.1f} s ({r['scalar_mults']:,} mults at "
                f"{r['single_core_mults_per_s']:,.0f}/s/core x {cores}); ratio {r['ratio_to_floor']:.2f}x "
                f"(CPU {r['cpu_ratio_to_floor']:.2f}x; {r['ratio_to_group_floor']:.2f}x the group floor "
                f"{r['group_floor_seconds']:.1f} s with the {r['hashes']:,} hashes); "
                f"load {r['load_average_1min']:.1f}; "
                f"peak RSS {r['peak_rss_mib_all_parties']:.0f} MiB (all parties, one process)"
            )
        if "speedup_vs_openmined" in r:
            note = f"{r['speedup_vs_openmined']:.2f}x openmined-psi's throughput"
        t.add_row(
            r["system"],
            str(r["parties"]),
            f"{r['rows_per_party']:,}",
            f"{r['intersection']:,}",
            f"{r['seconds']:.2f}",
            f"{r['rows_per_s']:,.0f}",
            note,
        )
    Console().print(t)
    write_json_atomic(out_dir / "bench.json", {"bench": "psi", "records": records})
    click.echo(f"wrote {out_dir / 'bench.json'}")
