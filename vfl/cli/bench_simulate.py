"""``vfl bench simulate``: the default ``vfl simulate`` against PSI's floor plus its training."""

from __future__ import annotations

from pathlib import Path

import click

from vfl.bench.simulate import run_simulate_bench
from vfl.cli.errors import friendly_errors
from vfl.runtime.store.atomic import write_json_atomic

__all__ = ["simulate"]


@click.command("simulate", context_settings={"ignore_unknown_options": True})
@click.option(
    "--out", "out_dir", type=click.Path(path_type=Path), default=Path("out/bench-simulate"), show_default=True
)
@click.argument("simulate_args", nargs=-1, type=click.UNPROCESSED)
@friendly_errors
def simulate(out_dir, simulate_args):  # type: ignore[no-untyped-def]
    """The default `vfl simulate` (or with SIMULATE_ARGS) against its floor in the same run:
    PSI's group work at this machine's rates plus the job's training time.

    \b
    Example:
      vfl bench simulate
      vfl bench simulate -- --model sbt --he ou
    """
    r = run_simulate_bench(list(simulate_args))
    s = r["seconds"]
    click.echo(
        f"{r['command'].strip()}: {s['wall']:.1f} s wall (the whole process) against a floor of "
        f"{s['psi_floor'] + s['train']:.1f} s = PSI's group work {s['psi_floor']:.1f} s "
        f"({r['scalar_mults']:,} scalar multiplications and {r['hashes']:,} hashes at this machine's "
        f"rates, {r['cores']} cores) + training {s['train']:.1f} s: {r['wall_over_floor']:.2f}x"
    )
    click.echo(f"PSI {s['psi']:.1f} s: {r['psi_over_floor']:.2f}x its group floor (same run)")
    write_json_atomic(out_dir / "bench.json", r)
    click.echo(f"wrote {out_dir / 'bench.json'}")
