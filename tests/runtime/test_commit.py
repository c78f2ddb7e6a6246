"""A failure at the label holder after training leaves no party with a model (protocols/specs/job.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from vfl.core.errors import VflError
from vfl.runtime.job.run import T_COMMIT, run_party_job
from vfl.runtime.modes.config import build_simulation_config
from vfl.runtime.modes.local import run_in_memory
from vfl.runtime.modes.outputs import write_party_outputs
from vfl.runtime.modes.simulate import job_spec, load_tables
from vfl.transport.channel import Channel
from vfl.transport.recording import RecordedMessage


class _DiesBeforeCommit:
    """The label holder's channel: everything works until it would send the commit."""

    def __init__(self, inner: Channel) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def send(self, peer: str, topic: str, msg: Any) -> None:
        if topic == T_COMMIT:
            raise OSError("the label holder's process died after training")
        self._inner.send(peer, topic, msg)


def _job(three_party_breast: dict[str, Path], tmp_path: Path) -> tuple[Any, Any]:
    data = tuple(f"{n}={p}" for n, p in three_party_breast.items())
    cfg = build_simulation_config(
        data, "pid", "insurer:y", model="sbt", he="ou", out_dir=tmp_path, model_params={"n_estimators": 1}
    )
    return job_spec(cfg, "job-commit"), load_tables(cfg)


@pytest.mark.parametrize("failure", ["dies before commit", "cannot write its outputs"])
def test_a_label_holder_failure_after_training_leaves_no_model_anywhere(
    three_party_breast: dict[str, Path], tmp_path: Path, failure: str
) -> None:
    spec, tables = _job(three_party_breast, tmp_path)
    out = tmp_path / "out"

    def keep(outcome: Any) -> None:
        if outcome.name == spec.active and failure == "cannot write its outputs":
            raise OSError(28, "No space left on device")
        write_party_outputs(out, outcome)

    def work(name: str, ch: Channel) -> Any:
        if name == spec.active and failure == "dies before commit":
            ch = _DiesBeforeCommit(ch)  # type: ignore[assignment]
        return run_party_job(spec, tables[name], ch, keep=keep)

    with pytest.raises((OSError, VflError)):
        run_in_memory(list(spec.order), spec.job_id, work, timeout=60)
    kept = sorted(p.parent.name for p in out.glob("*/model.json")) if out.exists() else []
    if failure == "dies before commit":
        assert kept == [spec.active], "only the label holder, which kept its outputs first"
    else:
        assert kept == []


def test_every_party_keeps_its_outputs_after_the_commit(
    three_party_breast: dict[str, Path], tmp_path: Path
) -> None:
    spec, tables = _job(three_party_breast, tmp_path)
    log: list[RecordedMessage] = []
    run_in_memory(
        list(spec.order),
        spec.job_id,
        lambda n, ch: run_party_job(
            spec, tables[n], ch, keep=lambda o: write_party_outputs(tmp_path / "o", o)
        ),
        record=log,
    )
    assert sorted(p.parent.name for p in (tmp_path / "o").glob("*/model.json")) == sorted(spec.order)
    commits = [(m.sender, m.receiver) for m in log if m.topic == T_COMMIT]
    assert sorted(commits) == sorted((spec.active, p) for p in spec.order if p != spec.active)
    assert log[-1].topic == T_COMMIT, "the commit is the job's last message"
