"""``vfl report OUT_DIR``: the HTML report and plots of a finished run (logic in vfl.report.html)."""

from __future__ import annotations

from pathlib import Path

import click

from vfl.cli.errors import friendly_errors

__all__ = ["report"]


@click.command()
@click.argument("out_dir", type=click.Path(path_type=Path, file_okay=False))
@friendly_errors
def report(out_dir: Path) -> None:
    """Build OUT_DIR/report.html (one self-contained page) and OUT_DIR/plots/ from a run's summary.json.

    \b
    Example:
      vfl simulate --model sbt --out runs/sbt && vfl report runs/sbt
    """
    from vfl.report.html import build_report

    path = build_report(out_dir)
    click.echo(f"plots:  {out_dir / 'plots'}/ (SVG)")
    click.echo(f"report: {path}")
