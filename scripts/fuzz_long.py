"""The long fuzz run (issue 18): every target of tests/fuzz/targets.py for a number of mutated
inputs each, then a table of inputs tried and findings (exceptions outside vfl's error types).

    python scripts/fuzz_long.py                 # 100,000 inputs per parser (slow ones: 2,000)
    python scripts/fuzz_long.py -n 5000 --only ndarray envelope --seed 7

It drives the mutator directly (no hypothesis), so a run is cheap per input and reproducible
from its seed. Exit status 1 when any parser has a finding; the first few of each are printed.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fuzz.targets import TARGETS, mutate, run_one


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=100_000, help="inputs per parser [100000]")
    ap.add_argument("--slow-n", type=int, default=2_000, help="inputs per slow parser (CKKS, phe) [2000]")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", nargs="*", default=None, help="parser names (default: all)")
    ap.add_argument("--show", type=int, default=3, help="findings printed per parser [3]")
    args = ap.parse_args()
    names = args.only or sorted(TARGETS)
    rows = []
    for name in names:
        target = TARGETS[name]
        rnd = random.Random(f"{args.seed}/{name}")
        n = args.slow_n if target.slow else args.n
        if not target.corpus():  # keys and seeds first, outside the loop
            print(f"{name:24s} no seeds (run python -m tests.fuzz.make_corpus)", flush=True)
            continue
        findings: dict[str, int] = {}
        shown = 0
        t0 = time.process_time()
        for _ in range(n):
            data = mutate(rnd, target)
            exc = run_one(target, data)
            if exc is None:
                continue
            key = f"{type(exc).__name__}: {str(exc)[:80]}"
            findings[key] = findings.get(key, 0) + 1
            if shown < args.show:
                shown += 1
                print(f"  {name}: {key}\n    input {data[:120]!r}", file=sys.stderr)
        cpu = time.process_time() - t0
        rows.append((name, n, sum(findings.values()), len(findings), cpu))
        print(
            f"{name:24s} {n:>9,d} inputs  {sum(findings.values()):>6d} findings  ({cpu:.0f} s CPU)",
            flush=True,
        )
    print()
    print("| parser | inputs tried | exceptions outside vfl's error types | distinct |")
    print("|---|---:|---:|---:|")
    for name, n, bad, distinct, _cpu in rows:
        print(f"| {name} | {n:,} | {bad} | {distinct} |")
    return 1 if any(r[2] for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
