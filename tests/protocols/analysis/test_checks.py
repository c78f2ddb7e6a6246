"""What each role refuses from a peer: counts that are not counts, bins under the minimum count,
announcements that do not fit the job, a correlation plan that would hand columns to the key
holder."""

from __future__ import annotations

import numpy as np
import pytest

from vfl.core.errors import ProtocolError
from vfl.crypto.he import make_scheme
from vfl.protocols.analysis.active import counts_from_sums
from vfl.protocols.analysis.passive import correlation_step
from vfl.protocols.analysis.stages import Topics, plan_pairs, read_info, stats_message
from vfl.transport.memory import MemoryHub
from vfl.wire.v1 import analysis_pb2 as pb

N_BINS = 4


def _sums(rows: list[float], events: list[float]) -> tuple[np.ndarray, np.ndarray]:
    return np.array([[*events, 0.0]]), np.array([[*rows, 0.0]])


def test_good_counts_pass() -> None:
    g, h = _sums([20.0, 30.0, 50.0], [5.0, 10.0, 20.0])
    [(ev, rows)] = counts_from_sums(g, h, [3], 100, 20, "p")
    assert rows.tolist() == [20.0, 30.0, 50.0] and ev.tolist() == [5.0, 10.0, 20.0]


@pytest.mark.parametrize(
    ("rows", "events", "what"),
    [
        ([19.0, 31.0, 50.0], [5.0, 10.0, 20.0], "minimum count"),
        ([20.0, 30.0, 40.0], [5.0, 10.0, 20.0], "add up"),
        ([20.0, 30.0, 50.0], [25.0, 10.0, 20.0], "add up"),
        ([20.3, 29.7, 50.0], [5.0, 10.0, 20.0], "not counts"),
    ],
)
def test_bad_counts_are_refused(rows: list[float], events: list[float], what: str) -> None:
    g, h = _sums(rows, events)
    with pytest.raises(ProtocolError, match=what):
        counts_from_sums(g, h, [3], 100, 20, "p")


def test_rows_in_padding_bins_are_refused() -> None:
    g, h = np.zeros((1, N_BINS)), np.array([[50.0, 50.0, 0.0, 10.0]])
    with pytest.raises(ProtocolError, match="not counts"):
        counts_from_sums(g, h, [2], 110, 5, "p")


def test_info_must_fit_the_job() -> None:
    X = np.arange(40.0).reshape(20, 2)
    msg = stats_message(X, ["a", "b"], "counts")
    assert [s["present"] for s in read_info(msg, "p", 20)] == [20, 20]
    with pytest.raises(ProtocolError, match="rows"):
        read_info(msg, "p", 21)
    msg.features[0].missing = 3  # present + missing no longer n
    with pytest.raises(ProtocolError, match="add up"):
        read_info(msg, "p", 20)
    msg = stats_message(X, ["a", "b"], "counts")
    msg.share = "everything"
    with pytest.raises(ProtocolError, match="share policy"):
        read_info(msg, "p", 20)


def test_plan_pairs_keep_columns_away_from_the_key_holder() -> None:
    pairs = plan_pairs(["a", "p", "q", "r"], {"a": 9, "p": 5, "q": 3, "r": 5})
    assert all(enc == "a" for enc, ev in pairs if "a" in (enc, ev))
    assert ("q", "p") in pairs and ("p", "r") in pairs and ("q", "r") in pairs
    assert not any(ev == "a" for _, ev in pairs)


def test_a_passive_refuses_a_plan_that_sends_its_columns_to_the_key_holder() -> None:
    hub = MemoryHub(["a", "p"], "job-1", timeout=5.0)
    active, passive = hub.channel("a"), hub.channel("p")
    plan = pb.CorrelationPlan(
        pairs=[pb.CorrelationPair(encryptor="p", evaluator="a", encryptor_columns=2, evaluator_columns=1)]
    )
    active.send("p", Topics.PLAN, plan)
    with pytest.raises(ProtocolError, match="key holder"):
        correlation_step(passive, make_scheme("ou"), np.zeros((10, 2)), "a")


def test_a_passive_refuses_a_plan_with_another_column_count() -> None:
    hub = MemoryHub(["a", "p"], "job-1", timeout=5.0)
    active, passive = hub.channel("a"), hub.channel("p")
    plan = pb.CorrelationPlan(
        pairs=[pb.CorrelationPair(encryptor="a", evaluator="p", encryptor_columns=1, evaluator_columns=7)]
    )
    active.send("p", Topics.PLAN, plan)
    with pytest.raises(ProtocolError, match="does not match"):
        correlation_step(passive, make_scheme("ou"), np.zeros((10, 2)), "a")
