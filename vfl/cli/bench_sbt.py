"""``vfl bench sbt``: SecureBoost (per HE scheme) vs xgboost hist on the same rows, in one run.
Only printing lives here; the benchmark itself is vfl.bench.sbt."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from vfl.bench.harness import default_data
from vfl.bench.sbt import run_pinned_sbt, run_sbt_bench
from vfl.cli.errors import friendly_errors
from vfl.cli.lists import name_list, number_list
from vfl.core.errors import ConfigError
from vfl.runtime.models.sbt import SBTParams
from vfl.runtime.modes.config import parse_data_options
from vfl.runtime.store.atomic import write_json_atomic

__all__ = ["sbt"]


def _parse_data(items: tuple[str, ...]) -> dict[str, Path]:
    if not items:
        return default_data()
    out = parse_data_options(items)
    if len(out) < 2:
        raise ConfigError("SecureBoost needs at least two parties", "give --data twice or more")
    return out


def _floor(r: dict[str, Any]) -> str:
    """The fit's crypto floor at the rates measured in this run, and fit time over it."""
    f = r.get("crypto_floor")
    if f is None:
        return "n/a (cost per ciphertext, not per row)" if r["he"] == "ckks" else ""
    rates = f["rates"]
    return (
        f"{f['seconds']:.2f} (fit {r['fit_over_crypto_floor']:.2f}x)\n"
        f"enc {rates['encrypt_per_s']:,.0f}/s, sums {rates['bucket_terms_per_s']:,.0f}/s\n"
        f"all crypto {f['all_seconds']:.2f} (fit {r['fit_over_all_crypto']:.2f}x)"
    )


def _fmt(v: Any, spec: str = ".4f") -> str:
    return "" if v is None else format(v, spec)


@click.command("sbt")
@click.option(
    "--data",
    "data",
    multiple=True,
    metavar="NAME=PATH",
    help="A party's CSV (id column 'id'; one file holds label 'y'). "
    "Default: default_credit guest (active) + host (FATE split, shipped with vfl).",
)
@click.option(
    "--he",
    "he",
    default="zpaillier,ou,ckks,paillier",
    show_default=True,
    help="Comma-separated HE schemes: zpaillier, ou, ckks, paillier.",
)
# the registry's (xgboost's) parameter names, as everywhere; the short names stay as aliases
@click.option("--n-estimators", "--trees", "trees", type=int, default=5, show_default=True)
@click.option("--max-depth", "--depth", "depth", type=int, default=3, show_default=True)
@click.option("--max-bin", "--bins", "bins", type=int, default=32, show_default=True)
@click.option("--learning-rate", type=float, default=0.3, show_default=True)
@click.option(
    "--phe-trees",
    type=int,
    default=1,
    show_default=True,
    help="Trees for the slow phe 'paillier' run (train-on-all only).",
)
@click.option(
    "--subsample",
    "subsample",
    default="1",
    show_default=True,
    help="Comma-separated row shares per tree (xgboost's subsample), e.g. 1,0.5: "
    "each runs for every scheme, and xgboost gets the same value.",
)
@click.option("--no-test", is_flag=True, help="Skip the 80/20 test-AUC fits.")
@click.option(
    "--pinned",
    is_flag=True,
    help="Also run the job with each party a process pinned to its own core (vfl run over "
    "gRPC, heu on one thread): the overlap of encryption and bucket sums.",
)
@click.option(
    "--out", "out_dir", type=click.Path(path_type=Path), default=Path("out/bench-sbt"), show_default=True
)
@friendly_errors
def sbt(data, he, trees, depth, bins, learning_rate, phe_trees, subsample, no_test, pinned, out_dir):  # type: ignore[no-untyped-def]
    """SecureBoost with HE gradients vs centralised xgboost (hist, same hyper-parameters).

    \b
    Example:
      vfl bench sbt --he zpaillier,ou --n-estimators 5 --max-depth 3 --max-bin 32 --out out/bench-sbt
      vfl bench sbt --he zpaillier,ou --subsample 1,0.5 --no-test
    """
    params = SBTParams(n_estimators=trees, max_depth=depth, max_bin=bins, learning_rate=learning_rate)
    schemes = name_list(he)
    result = run_sbt_bench(
        _parse_data(data),
        schemes,
        params,
        phe_trees=phe_trees,
        test_split=not no_test,
        subsamples=tuple(
            number_list(
                subsample, "--subsample", "1,0.5", float, lambda s: 0 < s <= 1, "each share must be in (0, 1]"
            )
        ),
    )
    con = Console(width=max(Console().width, 150))
    t = Table(
        title="SecureBoost vs xgboost (fit on all rows; test AUC: 80/20 split, seed 42). "
        "Per tree: crypto / compute / network seconds of each party"
    )
    for c in (
        "system",
        "trees",
        "fit s",
        "s/tree",
        "per tree, each party",
        "MB sent",
        "train AUC",
        "test AUC",
        "xgb train",
        "xgb test",
        "vs xgb (same run)",
        "crypto floor s (same run)",
        "published elsewhere (not re-run)",
    ):
        t.add_column(c, justify="left" if c in ("system", "per tree, each party") else "right")
    for r in result["records"]:
        n_trees = r["params"]["n_estimators"]
        split = "\n".join(
            f"{n}: "
            + " / ".join(f"{r['seconds'][n][k] / n_trees:.2f}" for k in ("crypto", "compute", "network"))
            for n in r["parties"]
        )
        sent = "\n".join(f"{n} {b / 1e6:.1f}" for n, b in r["bytes_sent"].items())
        ref = r.get("published")
        vs_ref = "" if ref is None else f"{ref['system']}: {ref['fit_seconds']:.0f} s"
        if "speedup_vs_all_rows" in r:
            vs_ref += f"\n{r['speedup_vs_all_rows']:.2f}x vs all rows"
        sub = "" if r["subsample"] == 1.0 else f"\nsubsample {r['subsample']:g}"
        t.add_row(
            f"vfl SBT {r['he']}{sub}",
            str(n_trees),
            f"{r['seconds']['fit']:.2f}",
            f"{r['seconds']['per_tree']:.2f}",
            split,
            sent,
            _fmt(r["metrics"]["train_auc"]),
            _fmt(r["metrics"].get("test_auc")),
            _fmt(r["baseline"]["train_auc"]),
            _fmt(r["baseline"].get("test_auc")),
            f"AUC {_fmt(r.get('test_auc_diff', r['train_auc_diff']), '+.4f')}\n"
            f"time {r['time_ratio_vs_xgboost']:.0f}x",
            _floor(r),
            vs_ref,
        )
    con.print(t)
    if pinned:
        result["pinned"] = run_pinned_sbt(
            _parse_data(data), [h for h in schemes if h != "paillier"], params, out_dir / "pinned"
        )
        p = Table(
            title="Pinned cores: one party per core (train s without the keys' wait; "
            "each party's crypto s, same run)"
        )
        for c in ("system", "cores", "train s", "crypto s, each party", "train / max crypto", "train / sum"):
            p.add_column(c, justify="left" if c in ("system", "crypto s, each party") else "right")
        for r in result["pinned"]:
            p.add_row(
                f"vfl SBT {r['he']}",
                " ".join(f"{n}:{c}" for n, c in r["cpus"].items()),
                f"{r['train_seconds']:.2f}\nkeys wait {r['keygen_wait_seconds']:.2f}",
                "\n".join(f"{n}: {v:.2f}" for n, v in r["crypto_seconds"].items()),
                f"{r['train_over_max_crypto']:.2f}x (target <= 1.15)",
                f"{r['train_over_sum_crypto']:.2f}x",
            )
        con.print(p)
    write_json_atomic(out_dir / "bench.json", result)
    click.echo(f"wrote {out_dir / 'bench.json'}")
