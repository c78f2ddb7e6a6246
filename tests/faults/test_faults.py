"""Every fault kind at every protocol stage: the job either ends with a clear vfl error at every
party (naming the peer or the message) within its deadline, or absorbs the fault and trains
the fault-free model; a stopped job resumes to that model; no output set is ever half-written."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.faults.harness import (
    COMPLETED,
    ENDED_CLEANLY,
    SPLIT,
    Federation,
    JobRun,
    full_disk,
    judge,
    names_a_cause,
    run_job,
    stage_topics,
)
from vfl.core.errors import PeerError, VflError
from vfl.runtime.store.atomic import DiskFullError
from vfl.transport.faults import Fault, FaultPlan, PartyStopped

#: each stage with the model it runs in (PSI and the handshake are the same for every model)
STAGE_CASES = [("psi", "lr"), ("setup", "sbt"), ("round", "lr"), ("round", "sbt"), ("predict", None)]
#: what each kind must come to: absorbed (the fault-free model) or a clean end everywhere
ABSORBED = {"delay", "duplicate", "reorder"}
#: a corruption may hit bytes that change nothing the receiver uses (then it is absorbed)
EITHER = {"corrupt"}
KINDS = ["drop", "delay", "duplicate", "reorder", "corrupt", "truncate", "raise", "hang"]
DEADLINE_S = 60.0  # a party still running then is hung (a fault-free job takes a few seconds)


def _fault(kind: str, topic: str, party: str = "hospital", **kw: Any) -> Fault:
    extras: dict[str, dict[str, Any]] = {
        "delay": {"seconds": 0.3},
        "hang": {"seconds": 30.0, "on": "recv"},  # it wakes when its peers have given up
    }
    return Fault(kind, party=party, topic=topic, **{**extras.get(kind, {}), **kw})


def _run(
    fed: Federation,
    refs: dict[str, Any],
    model: str,
    task: str,
    plan: FaultPlan | None,
    root: Path,
    **kw: Any,
) -> JobRun:
    fed.models = refs[model]["models"]
    return run_job(
        fed, fed.spec(model, task), root / "out", plan, checkpoints=root / "ck", deadline=DEADLINE_S, **kw
    )


def _reference(refs: dict[str, Any], model: str, task: str) -> Any:
    return refs[model]["predict" if task == "predict" else "metrics"]


def _assert_clean_end(run: JobRun, stopped: str | None = None) -> None:
    """Every party ended with a vfl error naming a peer or the message, the stopped party with
    the injected crash, and no party kept any output."""
    errors = run.errors()
    assert set(errors) == set(run.spec.order), f"a party ended without an error: {errors}"
    for name, exc in errors.items():
        if name == stopped:
            assert isinstance(exc, PartyStopped | PeerError), exc
        else:
            assert isinstance(exc, VflError), f"{name}: {exc!r}"
    assert names_a_cause(run) == []
    assert all(e.outputs == "none" for e in run.ends.values())


#: each kind at two stages, every stage three or four times: the suite's share of the matrix
#: (scripts/fault_run.py tries every kind at every stage, party and model, with many seeds)
SUITE_CASES = [
    pytest.param(kind, *STAGE_CASES[i], id=f"{kind}-{STAGE_CASES[i][0]}-{STAGE_CASES[i][1] or 'any'}")
    for k, kind in enumerate(KINDS)
    for i in sorted({k % len(STAGE_CASES), (k + 3) % len(STAGE_CASES)})
]


@pytest.mark.parametrize(("kind", "stage", "model"), SUITE_CASES)
def test_a_fault_at_a_stage_ends_cleanly_or_is_absorbed(
    fed: Federation, references: dict[str, Any], tmp_path: Path, kind: str, stage: str, model: str | None
) -> None:
    model = model or ("lr" if KINDS.index(kind) % 2 else "sbt")  # predict jobs of both models
    task = "predict" if stage == "predict" else "train"
    plan = FaultPlan.of(_fault(kind, stage_topics(stage, model)), seed=KINDS.index(kind))
    run = _run(fed, references, model, task, plan, tmp_path)
    assert plan.kinds_fired() == {kind}, "the fault never fired: the test would prove nothing"
    ending = judge(run, _reference(references, model, task))
    if kind in ABSORBED:
        assert ending == COMPLETED, (ending, run.errors())
    elif kind in EITHER:
        assert ending in (COMPLETED, ENDED_CLEANLY), (ending, run.errors())
    else:
        assert ending == ENDED_CLEANLY, (ending, run.errors())
    if ending == ENDED_CLEANLY:
        _assert_clean_end(run, stopped="hospital" if kind in ("raise", "hang") else None)
    if kind in ("drop", "hang"):  # a receive timed out (which party's first is a race)
        assert any(" did not send '" in str(e) for e in run.errors().values()), run.errors()


@pytest.mark.parametrize("model", ["lr", "sbt"])
def test_a_party_stopped_in_a_training_round_resumes_to_the_fault_free_model(
    fed: Federation, references: dict[str, Any], tmp_path: Path, model: str
) -> None:
    plan = FaultPlan.of(Fault("raise", party="pharma", topic=stage_topics("round", model), on="recv"))
    run = _run(fed, references, model, "train", plan, tmp_path)
    _assert_clean_end(run, stopped="pharma")
    assert "pharma" in str(run.errors()["insurer"])
    again = _run(fed, references, model, "train", None, tmp_path, resume=True)
    assert judge(again, references[model]["metrics"]) == COMPLETED, again.errors()
    outcome = again.ends["insurer"].outcome
    assert outcome is not None
    assert outcome.fit_stats["resumed_from_epoch" if model == "lr" else "resumed_from_tree"] >= 1


def test_a_lost_commit_leaves_whole_sets_and_resume_mends_it(
    fed: Federation, references: dict[str, Any], tmp_path: Path
) -> None:
    plan = FaultPlan.of(Fault("drop", party="insurer", peer="hospital", topic="job/commit"))
    run = _run(fed, references, "lr", "train", plan, tmp_path)
    assert judge(run) == SPLIT
    assert {n: e.outputs for n, e in run.ends.items()} == {
        "insurer": "full",
        "hospital": "none",
        "pharma": "full",
    }
    assert "insurer did not send 'job/commit'" in str(run.errors()["hospital"])
    again = _run(fed, references, "lr", "train", None, tmp_path, resume=True)
    assert judge(again, references["lr"]["metrics"]) == COMPLETED, again.errors()


@pytest.mark.parametrize(
    ("model", "party", "topic"), [("lr", "hospital", "mask-key"), ("sbt", "insurer", "request")]
)
def test_a_duplicated_scoring_message_is_never_read_by_the_next_scoring(
    fed: Federation, references: dict[str, Any], tmp_path: Path, model: str, party: str, topic: str
) -> None:
    """A training job scores its training rows, then its test rows, with the same messages. A
    duplicate of the first scoring's mask key once made the test scores' masks not cancel: the
    job completed with a test AUC of 0.50. Each scoring now has its own topics."""
    plan = FaultPlan.of(Fault("duplicate", party=party, topic=f"score/train/{model}/predict/{topic}"))
    run = _run(fed, references, model, "train", plan, tmp_path)
    assert plan.kinds_fired() == {"duplicate"}
    assert judge(run, references[model]["metrics"]) == COMPLETED, run.errors()


# -- a full disk -------------------------------------------------------------------------------
def test_a_full_disk_at_the_label_holders_outputs_keeps_every_previous_set(
    fed: Federation, references: dict[str, Any], tmp_path: Path
) -> None:
    shutil.copytree(references["lr"]["out"], tmp_path / "out")  # an earlier run's outputs
    before = {p: p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()}
    with full_disk("insurer", where="/out/", after_bytes=100) as failed:
        run = _run(fed, references, "lr", "train", None, tmp_path)
    assert failed, "no write failed"
    err = run.errors()["insurer"]
    assert isinstance(err, DiskFullError)
    assert f"cannot write {tmp_path / 'out' / 'insurer'}: No space left on device" in str(err)
    assert "free space on the disk" in err.hint and "previous outputs there are untouched" in err.hint
    for peer in ("hospital", "pharma"):  # they never heard the commit
        assert "insurer stopped before sending 'job/commit'" in str(run.errors()[peer])
    after = {p: p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()}
    assert after == before  # nothing lost, nothing half-written, no staging folder left
    assert all(e.outputs == "full" for e in run.ends.values())


def test_a_full_disk_at_a_checkpoint_ends_the_job_naming_the_file(
    fed: Federation, references: dict[str, Any], tmp_path: Path
) -> None:
    with full_disk("hospital", where="/ck/") as failed:
        run = _run(fed, references, "sbt", "train", None, tmp_path)
    assert failed
    _assert_clean_end(run)
    err = run.errors()["hospital"]
    assert isinstance(err, DiskFullError) and str(tmp_path / "ck" / "hospital") in str(err)
    assert not list((tmp_path / "ck").rglob("*.tmp"))  # the temporary file went with the error


def test_a_tampered_gradient_ciphertext_is_refused_naming_its_sender(
    fed: Federation, references: dict[str, Any], tmp_path: Path
) -> None:
    plan = FaultPlan.of(Fault("corrupt", party="hospital", topic="lr/i1/grad", flips=4), seed=4)
    run = _run(fed, references, "lr", "train", plan, tmp_path)
    assert plan.kinds_fired() == {"corrupt"}
    _assert_clean_end(run)
    assert names_a_cause(run, strict=True) == [], run.errors()  # a CryptoError names the sender too
    assert "hospital" in str(run.errors()["insurer"])
