"""Progress of long steps, fed by the ``progress(stage, done, total)`` callbacks the protocols call.

Three sinks behind one interface: rich bars (one per party and stage, with rate and ETA), quiet
(nothing), and JSON lines on stderr (one object per event, for logs and other programs). Parties
of a simulation run as threads, so every sink serialises its updates behind one lock.

    with make_progress("rich") as sink:
        fit(..., progress=sink.callback("insurer"))
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any, Literal

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.progress import Progress as Bars

from vfl.core.errors import ConfigError
from vfl.core.progress import Progress

__all__ = ["MODES", "ProgressEvent", "ProgressSink", "make_progress"]

Mode = Literal["rich", "quiet", "json"]
MODES: tuple[str, ...] = ("rich", "quiet", "json")


@dataclass(frozen=True)
class ProgressEvent:
    """One callback call, with the rate and ETA derived from the stage's start."""

    party: str
    stage: str
    done: int
    total: int
    elapsed_s: float  # since this stage of this party started
    rate: float | None  # rounds per second
    eta_s: float | None

    def to_dict(self) -> dict[str, object]:
        return {
            "event": "progress",
            "party": self.party,
            "stage": self.stage,
            "done": self.done,
            "total": self.total,
            "elapsed_s": round(self.elapsed_s, 3),
            "rate": None if self.rate is None else round(self.rate, 4),
            "eta_s": None if self.eta_s is None else round(self.eta_s, 1),
        }


class ProgressSink:
    """Base sink: tracks when each (party, stage) started; subclasses show the events.

    A stage starts at its first event: the protocols announce each stage before its first round
    (``done`` = rounds already done, e.g. after a resume) and then report every finished round.
    Rate and ETA count from that announcement, so PSI and setup before it are not in them."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._stage_start: dict[tuple[str, str], tuple[float, int]] = {}

    def callback(self, party: str) -> Progress:
        """The ``progress(stage, done, total)`` function to hand to ``party``'s protocol code."""

        def progress(stage: str, done: int, total: int) -> None:
            self.update(party, stage, done, total)

        return progress

    def update(self, party: str, stage: str, done: int, total: int) -> None:
        with self._lock:
            event = self._event(party, str(stage), int(done), int(total))
            self._show(event)

    def close(self) -> None:
        """Stop any display; called by :func:`make_progress` on exit."""

    def _event(self, party: str, stage: str, done: int, total: int) -> ProgressEvent:
        now = self._clock()
        key = (party, stage)
        start = self._stage_start.get(key)
        if start is None or done < start[1]:  # new stage, or the stage restarted
            start = (now, done)
            self._stage_start[key] = start
        elapsed = max(now - start[0], 0.0)
        # a one-step stage (total <= 1, e.g. PSI) has no meaningful rate
        rate = (done - start[1]) / elapsed if total > 1 and elapsed > 0 and done > start[1] else None
        eta = max(total - done, 0) / rate if rate and total > 0 else None
        return ProgressEvent(party, stage, done, total, elapsed, rate, eta)

    def _show(self, event: ProgressEvent) -> None:
        """Display one event; runs under the sink's lock."""


class _QuietSink(ProgressSink):
    pass


class _JsonSink(ProgressSink):
    def __init__(self, stream: IO[str] | None = None) -> None:
        super().__init__()
        self._stream = stream

    def _show(self, event: ProgressEvent) -> None:
        stream = self._stream or sys.stderr
        stream.write(json.dumps(event.to_dict(), separators=(",", ":")) + "\n")
        stream.flush()


class _RateColumn(TextColumn):
    def __init__(self) -> None:
        super().__init__("{task.fields[rate]}", justify="right")


class _EtaColumn(TextColumn):
    def __init__(self) -> None:
        super().__init__("{task.fields[eta]}", justify="right")


def _fmt_rate(rate: float | None, stage: str) -> str:
    if rate is None:
        return ""
    return f"{rate:.2f} {stage}/s" if rate >= 0.1 else f"{1 / rate:.1f} s/{stage}"


def _fmt_eta(eta: float | None, done: bool) -> str:
    if done:
        return "done"
    if eta is None:
        return "eta -"
    m, s = divmod(round(eta), 60)
    return f"eta {m}:{s:02d}"


class _RichSink(ProgressSink):
    def __init__(self, console: Console | None = None) -> None:
        super().__init__()
        self._bars = Bars(
            TextColumn("[bold]{task.fields[party]:>10}[/] {task.fields[stage]:<8}"),
            BarColumn(),
            MofNCompleteColumn(),
            _RateColumn(),
            TimeElapsedColumn(),
            _EtaColumn(),
            console=console or Console(stderr=True),
        )
        self._tasks: dict[tuple[str, str], TaskID] = {}
        self._bars.start()

    def _show(self, event: ProgressEvent) -> None:
        key = (event.party, event.stage)
        total = event.total if event.total > 0 else None
        fields: dict[str, Any] = {
            "rate": _fmt_rate(event.rate, event.stage),
            "eta": _fmt_eta(event.eta_s, total is not None and event.done >= total),
        }
        if key not in self._tasks:
            self._tasks[key] = self._bars.add_task(
                f"{event.party} {event.stage}", total=total, party=event.party, stage=event.stage, **fields
            )
        self._bars.update(self._tasks[key], completed=event.done, total=total, **fields)

    def close(self) -> None:
        with self._lock:
            self._bars.stop()


@contextmanager
def make_progress(
    mode: Mode, *, console: Console | None = None, stream: IO[str] | None = None
) -> Iterator[ProgressSink]:
    """A progress sink for ``mode`` ("rich" bars on stderr, "quiet", or "json" lines on stderr);
    ``console``/``stream`` redirect the rich or JSON output (tests, log files)."""
    if mode == "rich":
        sink: ProgressSink = _RichSink(console)
    elif mode == "json":
        sink = _JsonSink(stream)
    elif mode == "quiet":
        sink = _QuietSink()
    else:
        raise ConfigError(f"unknown progress mode {mode!r}", f"use one of: {', '.join(MODES)}")
    try:
        yield sink
    finally:
        sink.close()
