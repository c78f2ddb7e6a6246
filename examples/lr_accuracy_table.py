"""Federated LR with default parameters against scikit-learn's StandardScaler + LogisticRegression
on real public tables (tests/data/tables/README.md), each split by columns into three parties:
test AUC, test log-loss and the rounds each needed, on the same rows and stratified 80/20 split.

    .venv/bin/python examples/lr_accuracy_table.py                # CKKS and OU, all six tables
    .venv/bin/python examples/lr_accuracy_table.py --he zpaillier --tables gbsg2,anes96

Accuracy only: it prints no timings (run ``vfl bench lr`` on a quiet machine for those).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, for tests.*

from tests.protocols.lr.tables import TABLES, compare
from vfl.runtime.models.lr import LRParams

AUC_GAP = 0.005  # the bars: test AUC within 0.005 and log-loss within 2 % of scikit-learn
LOSS_RATIO = 1.02


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--he", default="ckks,ou", help="comma-separated HE backends (default ckks,ou)")
    ap.add_argument("--tables", default=",".join(TABLES), help="comma-separated tables (default: all)")
    ap.add_argument("--tol", type=float, default=None, help="override LRParams.tol (default: the default)")
    args = ap.parse_args()
    header = (
        f"{'table':<15}{'rows':>7}{'cols':>5} {'he':<10}{'AUC':>8}{'sklearn':>9}{'dAUC':>8}"
        f"{'logloss':>9}{'sklearn':>9}{'ratio':>7}{'iters':>7}{'rounds':>7}{'sk iters':>9}  ok"
    )
    print(header)
    print("-" * len(header))
    failed = 0
    for name in args.tables.split(","):
        for he in args.he.split(","):
            c = compare(name, he, LRParams(he=he, tol=args.tol))
            ok = c.auc >= c.sk_auc - AUC_GAP and c.loss_ratio <= LOSS_RATIO
            failed += not ok
            print(
                f"{name:<15}{c.rows:>7}{c.features:>5} {he:<10}{c.auc:>8.4f}{c.sk_auc:>9.4f}"
                f"{c.auc - c.sk_auc:>+8.4f}{c.loss:>9.4f}{c.sk_loss:>9.4f}{c.loss_ratio:>7.3f}"
                f"{c.n_iter:>7}{c.rounds:>7}{c.sk_iter:>9}  {'yes' if ok else 'NO'}",
                flush=True,
            )
    print(
        f"{failed} of the comparisons miss the bars (AUC within {AUC_GAP}, log-loss within "
        f"{LOSS_RATIO - 1:.0%})"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
