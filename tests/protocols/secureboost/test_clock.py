"""A party's crypto seconds count each moment once: its main thread's spans and its background
[[0]]s' overlap when they share a core (or wait for heu's GIL), and the pinned bench compares the
training time with this union, not with the sum. A [[0]] batch of a process at idle priority ran
for its CPU seconds only, in the gaps the party's own crypto left in its window."""

from __future__ import annotations

from typing import cast

import pytest

from vfl.crypto.he.base import ZeroSpan
from vfl.protocols.secureboost.stages import TreeClock
from vfl.transport.channel import Channel


def test_busy_seconds_count_overlapping_spans_once() -> None:
    clock = TreeClock(cast(Channel, None))  # the spans alone: no tree is timed here
    clock.spans = [(0.0, 2.0), (5.0, 6.0)]
    background = [ZeroSpan(1.0, 3.0, 2.0), ZeroSpan(3.5, 4.0, 0.5), ZeroSpan(5.5, 5.8, 0.3)]
    assert clock.busy_seconds(background) == pytest.approx(3.0 + 0.5 + 1.0)
    assert clock.busy_seconds() == pytest.approx(3.0)  # one thread's spans never overlap


def test_an_idle_priority_batch_counts_its_cpu_seconds_in_the_gaps() -> None:
    clock = TreeClock(cast(Channel, None))
    clock.spans = [(0.0, 1.0), (1.5, 2.0), (1.8, 3.0)]  # merged: 0-1 and 1.5-3 (2.5 s)
    # a window of 0-4 s holds 1.5 s of gaps: 1.2 s of its CPU fit there, 2.0 s cannot
    assert clock.busy_seconds([ZeroSpan(0.0, 4.0, 1.2)]) == pytest.approx(2.5 + 1.2)
    assert clock.busy_seconds([ZeroSpan(0.0, 4.0, 2.0)]) == pytest.approx(4.0)
    # two of heu's threads: more CPU than window, which then is all busy, once
    assert clock.busy_seconds([ZeroSpan(2.5, 3.5, 2.0)]) == pytest.approx(2.5 + 0.5)
