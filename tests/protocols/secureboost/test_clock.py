"""A party's crypto seconds count each moment once: its main thread's spans and its background
[[0]]s' overlap when they share a core (or wait for heu's GIL), and the pinned bench compares the
training time with this union, not with the sum."""

from __future__ import annotations

from typing import cast

import pytest

from vfl.protocols.secureboost.stages import TreeClock
from vfl.transport.channel import Channel


def test_busy_seconds_count_overlapping_spans_once() -> None:
    clock = TreeClock(cast(Channel, None))  # the spans alone: no tree is timed here
    clock.spans = [(0.0, 2.0), (5.0, 6.0)]
    background = [(1.0, 3.0), (3.5, 4.0), (5.5, 5.8)]
    assert clock.busy_seconds(background) == pytest.approx(3.0 + 0.5 + 1.0)
    assert clock.busy_seconds() == pytest.approx(3.0)  # one thread's spans never overlap
