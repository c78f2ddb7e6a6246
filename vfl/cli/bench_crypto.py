"""`vfl bench crypto`: HE backends side by side (rates, bytes, ratio vs python-paillier)."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from vfl.bench.crypto import OPS, run_crypto_bench
from vfl.cli.errors import friendly_errors
from vfl.cli.lists import name_list, number_list
from vfl.crypto.he import available_backends

__all__ = ["crypto"]


@click.command("crypto")
@click.option(
    "--he", "--backends", "backends", default="", help="HE schemes, comma-separated (default: all available)"
)
@click.option("--sizes", default="10000", show_default=True, help="vector sizes, comma-separated")
@click.option("--key-bits", default="2048,3072", show_default=True, help="Paillier-family keys")
@click.option(
    "--phe-sample",
    default=40,
    show_default=True,
    help="values phe is measured on (its rates are extrapolated)",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="write OUT/bench.json",
)
@friendly_errors
def crypto(backends: str, sizes: str, key_bits: str, phe_sample: int, out_dir: Path | None) -> None:
    """Encrypt / add / mul_plain / sum / decrypt rates of each HE backend.

    \b
    Example:
      vfl bench crypto --he ckks,ou --sizes 10000,100000 --out out/bench-crypto
    """
    names = name_list(backends) or available_backends()
    n = number_list(sizes, "--sizes", "10000", int, lambda v: v > 0, "each size must be positive")
    bits = number_list(
        key_bits, "--key-bits", "2048,3072", int, lambda v: v > 0, "each key size must be positive"
    )
    records = run_crypto_bench(names, n, bits, phe_sample=phe_sample)
    table = Table(title="HE backends (values/s; x = ratio vs phe at the same key size)")
    for col in ("backend", "params", "n", *OPS, "bytes/value"):
        table.add_column(col, justify="left" if col in ("backend", "params") else "right")
    for r in records:
        ratio = r.get("ratio_vs_phe") or {}
        cells = [
            f"{r['rates'][op]:,.0f}"
            + (f" ({ratio[op]:,.0f}x)" if ratio and r["backend"] != "paillier" else "")
            for op in OPS
        ]
        params = ",".join(f"{k}={v}" for k, v in r["params"].items())
        table.add_row(r["backend"], params, str(r["values"]), *cells, f"{r['bytes_per_value']:,.0f}")
    console = Console(width=max(Console().width, 150))
    console.print(table)
    console.print(
        f"phe measured on {phe_sample} values, Paillier-family decryption on at most "
        "2,000; those rates are extrapolated."
    )
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "bench.json").write_text(json.dumps({"bench": "crypto", "records": records}, indent=2))
        console.print(f"wrote {out_dir / 'bench.json'}")
