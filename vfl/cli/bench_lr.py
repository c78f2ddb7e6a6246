"""``vfl bench lr``: vertical LR (CKKS / Paillier) vs scikit-learn on the same rows.
Only printing lives here; the benchmark itself is vfl.bench.lr."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from vfl.bench.harness import default_data
from vfl.bench.lr import run_lr_bench
from vfl.cli.errors import friendly_errors
from vfl.cli.lists import name_list
from vfl.core.errors import ConfigError
from vfl.runtime.models.lr import LRParams
from vfl.runtime.modes.config import parse_data_options
from vfl.runtime.store.atomic import write_json_atomic

__all__ = ["lr"]


def _parse_data(items: tuple[str, ...]) -> dict[str, Path]:
    if not items:
        return default_data()
    out = parse_data_options(items)
    if len(out) < 2:
        raise ConfigError("vertical LR needs at least two parties", "give --data twice or more")
    return out


@click.command("lr")
@click.option(
    "--data",
    "data",
    multiple=True,
    metavar="NAME=PATH",
    help="A party's CSV (id column 'id'; one file holds label 'y'). "
    "Default: default_credit guest + host (FATE split, shipped with vfl).",
)
@click.option(
    "--he",
    "he",
    default="ckks,paillier",
    show_default=True,
    help="Comma-separated HE schemes: ckks, paillier, zpaillier, ou.",
)
@click.option("--epochs", type=int, default=LRParams.epochs, show_default=True)
@click.option("--batch-size", type=int, default=LRParams.batch_size, show_default=True)
@click.option("--learning-rate", type=float, default=LRParams.learning_rate, show_default=True)
@click.option("--dp-epsilon", type=float, default=None, help="Train with DP at this epsilon.")
@click.option(
    "--out", "out_dir", type=click.Path(path_type=Path), default=Path("out/bench-lr"), show_default=True
)
@friendly_errors
def lr(data, he, epochs, batch_size, learning_rate, dp_epsilon, out_dir):  # type: ignore[no-untyped-def]
    """Vertical LR with HE gradients vs centralised scikit-learn, stratified 80/20 split (seed 42).

    \b
    Example:
      vfl bench lr --he ckks,zpaillier --out out/bench-lr
    """
    params = LRParams(
        epochs=epochs, batch_size=batch_size, learning_rate=learning_rate, dp_epsilon=dp_epsilon
    )
    schemes = name_list(he)
    result = run_lr_bench(_parse_data(data), schemes, params)
    t = Table(title="Vertical LR benchmark (fit seconds: active's crypto / compute / network)")
    for c in (
        "system",
        "fit s",
        "crypto",
        "compute",
        "network",
        "MB sent/party",
        "rounds",
        "train AUC",
        "test AUC",
        "vs sklearn",
    ):
        t.add_column(c, justify="left" if c == "system" else "right")
    base = result["records"][0]["baseline"] if result["records"] else None
    for r in result["records"]:
        sec = r["seconds"][r["active"]]
        sent = ", ".join(f"{n} {b / 1e6:.1f}" for n, b in r["bytes_sent"].items())
        t.add_row(
            f"vfl LR ({r['he']})",
            f"{r['seconds']['fit']:.2f}",
            f"{sec['crypto']:.2f}",
            f"{sec['compute']:.2f}",
            f"{sec['network']:.2f}",
            sent,
            str(r["rounds"]),
            f"{r['metrics']['train_auc']:.4f}",
            f"{r['metrics']['test_auc']:.4f}",
            f"{r['test_auc_ratio']:.4f}x",
        )
    if base:
        t.add_row(
            "sklearn LogisticRegression",
            f"{base['fit_seconds']:.2f}",
            "",
            "",
            "",
            "",
            str(base["n_iter"]),
            f"{base['train_auc']:.4f}",
            f"{base['test_auc']:.4f}",
            "1.0000x",
        )
    Console(width=160).print(t)
    write_json_atomic(out_dir / "bench.json", result)
    click.echo(f"wrote {out_dir / 'bench.json'}")
