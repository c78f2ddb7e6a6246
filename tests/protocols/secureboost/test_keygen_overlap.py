"""The label holder's HE keys are made while PSI runs (vfl/crypto/he/keygen.py), once per job,
and the model is the one the fit made with its own keys (the integer schemes are exact)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from vfl.crypto.he import integer
from vfl.crypto.he.keygen import PendingKeys
from vfl.crypto.he.zeros import ChildZeros
from vfl.executor import he as he_work
from vfl.runtime.job import run
from vfl.runtime.models import sbt
from vfl.runtime.modes.config import build_simulation_config
from vfl.runtime.modes.local import run_in_memory
from vfl.runtime.modes.simulate import job_spec, load_tables
from vfl.transport.channel import Channel

pytestmark = pytest.mark.fresh_keys  # these tests are about making keys


def _run(three_party_breast: dict[str, Path], tmp_path: Path) -> dict[str, Any]:
    data = tuple(f"{n}={p}" for n, p in three_party_breast.items())
    cfg = build_simulation_config(
        data,
        "pid",
        "insurer:y",
        model="sbt",
        he="ou",
        out_dir=tmp_path,
        model_params={"n_estimators": 2, "max_depth": 2},
    )
    spec, tables = job_spec(cfg, "job-keygen"), load_tables(cfg)

    def work(name: str, ch: Channel) -> Any:
        return run.run_party_job(spec, tables[name], ch)

    return run_in_memory(list(spec.order), spec.job_id, work, timeout=120)


def _no_ids(part: dict[str, Any]) -> tuple[Any, Any]:
    """A part's trees and split table without the random split ids (drawn afresh per run)."""
    trees = [[{k: v for k, v in nd.items() if k != "split_id"} for nd in t["nodes"]] for t in part["trees"]]
    return trees, sorted(map(str, part["splits"].values()))


def test_keys_are_made_once_during_psi_and_give_the_same_model(
    three_party_breast: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[tuple[str, str]] = []
    align, start = run.align_party, run.start_keygen

    def recorded_align(channel: Channel, *args: Any, **kwargs: Any) -> Any:
        events.append((channel.me, "psi-start"))
        out = align(channel, *args, **kwargs)
        events.append((channel.me, "psi-end"))
        return out

    def recorded_start(name: str, **kwargs: Any) -> PendingKeys:
        events.append(("?", f"keygen-start-{name}"))
        return start(name, **kwargs)

    def inline_keygen(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the fit made keys of its own")

    monkeypatch.setattr(run, "align_party", recorded_align)
    monkeypatch.setattr(run, "start_keygen", recorded_start)
    monkeypatch.setattr(sbt, "make_scheme", inline_keygen)
    ahead = _run(three_party_breast, tmp_path / "ahead")
    starts = [i for i, (_, e) in enumerate(events) if e.startswith("keygen-start")]
    assert [events[i][1] for i in starts] == ["keygen-start-ou"], "one key pair, at the label holder only"
    assert starts[0] < events.index(("insurer", "psi-start")) < events.index(("insurer", "psi-end"))
    stats = ahead["insurer"].model.fit_stats
    assert stats["keygen_seconds"] < 0.05 and "keygen_wait" in ahead["insurer"].seconds

    monkeypatch.undo()  # before: the adapter makes its keys at the start of the fit
    monkeypatch.setattr(run, "start_keygen", lambda name, **kwargs: None)
    inline = _run(three_party_breast, tmp_path / "inline")
    for name in ahead:
        a, b = _no_ids(ahead[name].model.to_dict()), _no_ids(inline[name].model.to_dict())
        assert a == b
    assert ahead["insurer"].metrics == inline["insurer"].metrics

    # and with the [[0]]s of a child process (vfl/crypto/he/zeros.py), started with the keys, as
    # for a party with a process of its own (here all share one, so that is what is patched); a
    # job this small starts none, so the threshold is lowered; where the child's [[0]]s came in
    # time an encryption took one, else it was made in full, and the model is the same
    monkeypatch.undo()
    monkeypatch.setattr(run, "cohosted", lambda: False)
    monkeypatch.setattr(he_work, "cohosted", lambda: False)
    children: list[ChildZeros] = []

    class Counted(ChildZeros):
        def __init__(self, *args: Any) -> None:
            super().__init__(*args)
            children.append(self)

    monkeypatch.setattr(integer, "CHILD_MIN_VALUES", 1)
    monkeypatch.setattr(integer, "ChildZeros", Counted)
    zeros = _run(three_party_breast, tmp_path / "zeros")
    assert len(children) == 1 and children[0]._to.closed  # one child, ended with the fit
    for name in ahead:
        assert _no_ids(zeros[name].model.to_dict()) == _no_ids(ahead[name].model.to_dict())
