"""``vfl bench compute``: per tree-training step, NumPy vs a GPU array-API backend in one run.
Only printing lives here; the benchmark itself is vfl.bench.compute."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from vfl.bench.compute import BACKENDS, available_backends, run_compute_bench
from vfl.cli.errors import friendly_errors
from vfl.cli.lists import name_list, number_list
from vfl.core.errors import ConfigError
from vfl.runtime.store.atomic import write_json_atomic

__all__ = ["compute"]


@click.command("compute")
@click.option("--rows", default="1e6,1e7", show_default=True, help="Comma-separated row counts.")
@click.option(
    "--backend",
    "backend",
    default="auto",
    show_default=True,
    help="Comma-separated: cuda, cupy, torch-cpu, numpy; 'auto' = cuda if a GPU "
    "backend loads, else torch-cpu if torch is installed, else NumPy only.",
)
@click.option("--features", type=int, default=20, show_default=True)
@click.option(
    "--max-bin",
    "--bins",
    "bins",
    type=int,
    default=32,
    show_default=True,
    help="Bins per feature (SecureBoost's max_bin; --bins is the old name).",
)
@click.option(
    "--out", "out_dir", type=click.Path(path_type=Path), default=Path("out/bench-compute"), show_default=True
)
@friendly_errors
def compute(rows, backend, features, bins, out_dir):  # type: ignore[no-untyped-def]
    """Binning, grad/hess, histograms, split search and a depth-3 tree: NumPy vs GPU.

    \b
    Example:
      vfl bench compute --rows 1e6,1e7 --backend cuda --max-bin 32
    """
    console = Console()
    if backend == "auto":
        avail = available_backends()
        gpu = [b for b in ("cuda", "cupy") if b in avail]
        chosen = gpu[:1] or [b for b in ("torch-cpu",) if b in avail] or ["numpy"]
        if not gpu:
            console.print(
                "[yellow]No GPU backend is available (needs a CUDA GPU and a CUDA "
                "build of torch, or cupy); comparing NumPy with "
                f"{chosen[0]} instead.[/yellow]"
            )
    else:
        chosen = name_list(backend)
        bad = [b for b in chosen if b not in BACKENDS]
        if bad:
            raise ConfigError(
                f"unknown --backend {', '.join(bad)}", f"use auto or any of {', '.join(BACKENDS)}"
            )
    sizes = number_list(
        rows,
        "--rows",
        "1e6,1e7",
        lambda x: int(float(x)),
        lambda n: n >= 100,
        "each size must be at least 100",
    )
    records = run_compute_bench(sizes, chosen, features=features, bins=bins)
    table = Table(title=f"compute steps, {features} float32 features, {bins} bins")
    for col in ("rows", "step", "backend", "numpy s", "backend s", "speed-up", "agree"):
        table.add_column(col, justify="right" if col.endswith(("s", "up")) else "left")
    for r in records:
        sp = r["speedup"]
        table.add_row(
            f"{r['rows']:,}",
            r["step"],
            r["device"],
            f"{r['numpy_seconds']:.4f}",
            f"{r['seconds']:.4f}",
            "" if sp is None else f"{sp:.2f}x",
            "yes" if r["agree"] else "[red]NO[/red]",
        )
    console.print(table)
    agree = all(r["agree"] for r in records)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(
        out_dir / "bench.json",
        {"benchmark": "compute", "backends": chosen, "all_agree": agree, "records": records},
    )
    console.print(
        f"wrote {out_dir / 'bench.json'}"
        + ("" if agree else " [red]- some steps disagree with NumPy, see 'agree'[/red]")
    )
