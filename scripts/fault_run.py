"""The long fault-injection run (issue 18): every fault kind at every protocol stage, for LR and
SecureBoost, at every party, over many seeds; then a table of how each job ended.

    python scripts/fault_run.py                      # 2 seeds: about 500 jobs
    python scripts/fault_run.py --seeds 1 --kinds drop corrupt --stages round --models sbt
    python scripts/fault_run.py --one-party --seeds 2  # each job at one party, in turn

Each job is the real one (tests/faults/harness.py: handshake, PSI, training with checkpoints,
scoring, commit, outputs as one set) with its parties as threads over the memory transport and
each party's channel behind a seeded FaultPlan (vfl/transport/faults.py). The seed picks which
matching message the fault hits (the first, second or third) and the bytes a corruption flips.
A job that did not complete is run again with --resume and no faults: "recovered" when that
run trains the fault-free model. Columns: tried (the fault fired), completed (absorbed: the
fault-free model or predictions), ended cleanly (every party a vfl error, no outputs), split
commit (the label holder kept its outputs, a peer did not), recovered by resume, wrong result,
unclear error (an exception outside vfl's types), data lost (a half-written output set),
hung / over deadline. The targets are zero in the last four.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.faults.harness import (
    COMPLETED,
    ENDED_CLEANLY,
    HUNG,
    LOST,
    PARTIES,
    SPLIT,
    STAGES,
    TIMEOUT_S,
    UNCLEAR,
    WRONG,
    Federation,
    JobRun,
    breast_tables,
    full_disk,
    judge,
    metrics_of,
    names_a_cause,
    run_job,
    stage_topics,
)
from tests.keypairs import reused_key_pairs
from vfl.transport.faults import FAULT_KINDS, Fault, FaultPlan

KINDS = [k for k in FAULT_KINDS if k != "kill"] + ["disk-full"]  # kill: tests/faults/test_processes.py
RECOVERED, NOT_RECOVERED = "recovered", "resume failed"
COLUMNS = ("tried", COMPLETED, ENDED_CLEANLY, SPLIT, RECOVERED, NOT_RECOVERED, WRONG, UNCLEAR, LOST, HUNG)


def plan_for(kind: str, stage: str, model: str, party: str, seed: int) -> FaultPlan:
    rnd = random.Random(f"{seed}/{kind}/{stage}/{model}/{party}")
    seconds = {"delay": rnd.choice([0.2, 1.5 * TIMEOUT_S]), "hang": 30.0}.get(kind, 1.0)
    on = rnd.choice(["send", "recv"]) if kind in ("raise", "hang") else "send"
    fault = Fault(
        kind, party=party, topic=stage_topics(stage, model), nth=rnd.randint(1, 3), on=on, seconds=seconds
    )
    return FaultPlan.of(fault, seed=seed)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument(
        "--one-party", action="store_true", help="one party per job, taking turns (a third of the jobs)"
    )
    ap.add_argument("--kinds", nargs="*", default=KINDS)
    ap.add_argument("--stages", nargs="*", default=list(STAGES))
    ap.add_argument("--models", nargs="*", default=["lr", "sbt"])
    ap.add_argument("--parties", nargs="*", default=list(PARTIES))
    ap.add_argument("--rows", type=int, default=160)
    ap.add_argument("--show", type=int, default=5, help="unacceptable endings printed [5]")
    args = ap.parse_args()
    fed = Federation(breast_tables(args.rows))
    tmp = Path(tempfile.mkdtemp(prefix="vfl-faults-"))
    table: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(COLUMNS, 0))
    bad: list[str] = []
    t_start = time.perf_counter()
    with reused_key_pairs(("ou", 2048)):
        for model in args.models:
            ref, predict_ref, models, ref_s = _references(fed, model, tmp / f"ref-{model}")
            for stage in args.stages:
                for kind in args.kinds:
                    for i, party in enumerate(args.parties):
                        for seed in range(args.first_seed, args.first_seed + args.seeds):
                            turn = (seed + KINDS.index(kind) + list(STAGES).index(stage)) % len(args.parties)
                            if args.one_party and i != turn:
                                continue
                            fed.models = models
                            ending, resumed, why = _one(
                                fed, model, stage, kind, party, seed, tmp / "run", ref, predict_ref, ref_s
                            )
                            if ending is None:
                                continue  # the fault's message never came (a party sends none there)
                            row = table[(kind, stage)]
                            row["tried"] += 1
                            row[ending] += 1
                            if resumed is not None:
                                row[resumed] += 1
                            if why:
                                bad.append(f"{kind} {stage} {model} {party} seed {seed}: {why}")
                            print(
                                f"{model:3s} {stage:7s} {kind:9s} {party:8s} seed {seed}: {ending}",
                                flush=True,
                            )
    shutil.rmtree(tmp, ignore_errors=True)
    _print_table(table, time.perf_counter() - t_start)
    for line in bad[: args.show]:
        print("  " + line)
    worst = sum(r[c] for r in table.values() for c in (NOT_RECOVERED, WRONG, UNCLEAR, LOST, HUNG))
    return 1 if worst else 0


def _references(fed: Federation, model: str, root: Path) -> tuple[Any, Any, Any, float]:
    """The fault-free run's metrics and model files, and its predict job's predictions."""
    run = run_job(fed, fed.spec(model), root / "out", checkpoints=root / "ck")
    assert run.completed, run.errors()
    fed.load_models(root / "out")
    pred = run_job(fed, fed.spec(model, "predict"), root / "pout")
    assert pred.completed, pred.errors()
    return metrics_of(run), metrics_of(pred), fed.models, run.seconds


def _one(
    fed: Federation,
    model: str,
    stage: str,
    kind: str,
    party: str,
    seed: int,
    root: Path,
    ref: Any,
    predict_ref: Any,
    ref_s: float,
) -> tuple[str | None, str | None, str]:
    """One faulty job: its ending, whether a resume recovered it (None: none was needed), and
    what was wrong, if anything."""
    shutil.rmtree(root, ignore_errors=True)
    task = "predict" if stage == "predict" else "train"
    spec = fed.spec(model, task)
    want = predict_ref if task == "predict" else ref
    out, ck = root / "out", root / "ck"
    deadline = 3 * ref_s + 3 * TIMEOUT_S + 5.0
    if kind == "disk-full":
        if stage not in ("round", "commit"):
            return None, None, ""  # nothing is written before training's first checkpoint
        # round: the party's first checkpoint; commit: its output set
        with full_disk(party, where="/ck/" if stage == "round" else "/out/") as failed:
            run = run_job(fed, spec, out, checkpoints=ck)
        fired = bool(failed)
    else:
        plan = plan_for(kind, stage, model, party, seed)
        run = run_job(fed, spec, out, plan, checkpoints=ck, deadline=deadline)
        fired = bool(plan.fired)
    if not fired:
        return None, None, ""
    ending = judge(run, want)
    over = [n for n, e in run.ends.items() if e.seconds > deadline]
    if over and ending != HUNG:
        ending = HUNG
    why = _why(run, ending, over)
    if ending not in (ENDED_CLEANLY, SPLIT):
        return ending, None, why
    again = run_job(fed, spec, out, checkpoints=ck, resume=True)
    if judge(again, want) == COMPLETED:
        return ending, RECOVERED, why
    return ending, NOT_RECOVERED, f"{why} resume after {ending}: {judge(again, want)} {again.errors()}"


def _why(run: JobRun, ending: str, over: list[str]) -> str:
    if ending in (WRONG, UNCLEAR, LOST, HUNG):
        states = {n: e.outputs for n, e in run.ends.items()}
        return f"{ending}: errors {run.errors()} outputs {states} hung {run.hung} over {over}"
    vague = names_a_cause(run, strict=True)
    return f"errors that name no cause: {vague}" if vague else ""


def _print_table(table: dict[tuple[str, str], dict[str, int]], seconds: float) -> None:
    heads = ["fault", "stage", "tried", "completed", "ended cleanly", "split commit", "recovered by resume"]
    heads += ["resume failed"]
    heads += ["wrong result", "unclear error", "data lost", "hung/over deadline"]
    jobs = sum(r["tried"] for r in table.values())
    print(f"\n{len(table)} fault x stage cells, {jobs} jobs, {seconds:.0f} s\n")
    print("| " + " | ".join(heads) + " |")
    print("|" + "---|" * len(heads))
    total = dict.fromkeys(COLUMNS, 0)
    for (kind, stage), row in sorted(
        table.items(), key=lambda kv: (KINDS.index(kv[0][0]), list(STAGES).index(kv[0][1]))
    ):
        print("| " + " | ".join([kind, stage, *(str(row[c]) for c in COLUMNS)]) + " |")
        for c in COLUMNS:
            total[c] += row[c]
    print("| **all** | | " + " | ".join(f"**{total[c]}**" for c in COLUMNS) + " |")


if __name__ == "__main__":
    sys.exit(main())
