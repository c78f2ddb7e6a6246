from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.console import Console

from tests.report.conftest import progress_log
from vfl.core.errors import ConfigError
from vfl.report.progress import ProgressEvent, ProgressSink, make_progress

PARTIES = ("insurer", "hospital", "pharma")
ROUNDS = 20


def _hammer(sink: ProgressSink) -> None:
    """Every party reports from its own thread, two stages each, all at once."""
    start = threading.Barrier(len(PARTIES))

    def work(party: str) -> None:
        cb = sink.callback(party)
        start.wait()
        for stage in ("epoch", "predict"):
            for i in range(1, ROUNDS + 1):
                cb(stage, i, ROUNDS)

    threads = [threading.Thread(target=work, args=(p,)) for p in PARTIES]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_json_lines_from_many_threads() -> None:
    buf = io.StringIO()
    with make_progress("json", stream=buf) as sink:
        _hammer(sink)
    lines = buf.getvalue().splitlines()
    assert len(lines) == len(PARTIES) * 2 * ROUNDS
    events = [json.loads(line) for line in lines]
    for e in events:
        assert {"party", "stage", "done", "total", "rate", "eta_s"} <= set(e) and e["event"] == "progress"
    for party in PARTIES:
        for stage in ("epoch", "predict"):
            done = [e["done"] for e in events if e["party"] == party and e["stage"] == stage]
            assert done == list(range(1, ROUNDS + 1))


def test_rich_bars_one_per_party_and_stage() -> None:
    console = Console(record=True, width=120, file=io.StringIO(), force_terminal=False)
    with make_progress("rich", console=console) as sink:
        _hammer(sink)
    text = console.export_text()
    for party in PARTIES:
        lines = [line for line in text.splitlines() if party in line]
        assert len(lines) == 2, text
        assert all(f"{ROUNDS}/{ROUNDS}" in line and "done" in line for line in lines), text


def test_quiet_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    with make_progress("quiet") as sink:
        _hammer(sink)
    assert capsys.readouterr() == ("", "")


def test_json_goes_to_stderr_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    with make_progress("json") as sink:
        sink.callback("insurer")("tree", 1, 5)
    out, err = capsys.readouterr()
    assert out == "" and json.loads(err)["stage"] == "tree"


class _Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


class _Recorder(ProgressSink):
    def __init__(self, clock: Callable[[], float]) -> None:
        super().__init__(clock)
        self.events: list[ProgressEvent] = []

    def _show(self, event: ProgressEvent) -> None:
        self.events.append(event)


def test_rate_and_eta_count_from_the_stage_announcement() -> None:
    clock = _Clock()
    sink = _Recorder(clock)
    cb = sink.callback("insurer")
    clock.t += 30.0  # PSI and setup: not part of any stage
    cb("epoch", 0, 5)  # the protocol announces the stage
    assert sink.events[-1].rate is None and sink.events[-1].elapsed_s == 0.0
    clock.t += 2.0
    cb("epoch", 1, 5)
    clock.t += 2.0
    cb("epoch", 2, 5)
    assert (sink.events[-1].rate, sink.events[-1].eta_s) == (0.5, 6.0)
    clock.t += 10.0
    cb("tree", 3, 5)  # a resumed stage: three trees were done by an earlier run
    clock.t += 4.0
    cb("tree", 4, 5)
    assert (sink.events[-1].rate, sink.events[-1].eta_s) == (0.25, 4.0)


def test_a_simulation_reports_psi_then_each_epoch(lr_run: Path) -> None:
    events = json.loads(progress_log(lr_run).read_text())
    for party in ("insurer", "hospital"):
        own = [tuple(e[1:]) for e in events if e[0] == party]
        psi = [e for e in own if e[0] == "psi"]
        total = psi[0][2]  # PSI counts this party's scalar multiplications (issue 19: was one step)
        assert total > 100 and psi[0] == ("psi", 0, total) and psi[-1] == ("psi", total, total)
        assert [d for _, d, _ in psi] == sorted(d for _, d, _ in psi), "PSI progress only moves forward"
        assert own[len(psi) :] == [("epoch", i, 3) for i in range(4)], own


def test_a_one_step_stage_shows_no_rate() -> None:
    console = Console(record=True, width=120, file=io.StringIO(), force_terminal=False)
    with make_progress("rich", console=console) as sink:
        cb = sink.callback("insurer")
        cb("psi", 0, 0)
        cb("psi", 1, 1)
    line = next(t for t in console.export_text().splitlines() if "psi" in t)
    assert "1/1" in line and "done" in line and "/psi" not in line, line


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ConfigError, match="rich, quiet, json"), make_progress("loud"):  # type: ignore[arg-type]
        pass
