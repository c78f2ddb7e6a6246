"""``vfl bench``: side-by-side benchmarks, each printing ratios against a baseline measured in the
same run and writing OUT/bench.json. Each subcommand loads only when it runs."""

from __future__ import annotations

import click

from vfl.cli.lazy import LazyGroup

__all__ = ["bench"]


@click.group(
    cls=LazyGroup,
    lazy_subcommands={
        "analyze": "vfl.cli.analyze:bench_analyze",
        "compute": "vfl.cli.bench_compute:compute",
        "crypto": "vfl.cli.bench_crypto:crypto",
        "lr": "vfl.cli.bench_lr:lr",
        "psi": "vfl.cli.bench_psi:bench_psi",
        "scale": "vfl.cli.bench_scale:scale",
        "sbt": "vfl.cli.bench_sbt:sbt",
        "simulate": "vfl.cli.bench_simulate:simulate",
    },
)
def bench() -> None:
    """Benchmarks (psi, scale, simulate, crypto, lr, sbt, compute, analyze), each against a baseline
    in the same run.

    \b
    Example:
      vfl bench sbt --n-estimators 5 --max-depth 3 --he ou
    """
