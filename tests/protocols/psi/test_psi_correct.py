"""PSI equals the plain set intersection for 2..4 parties, and every party aligns to one order."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vfl.core.errors import DataError

from .conftest import run_all


def _check(sets: list[list[str]]) -> None:
    res = run_all(sets)
    names = [f"p{i}" for i in range(len(sets))]
    truth = set(sets[0]).intersection(*map(set, sets[1:]))
    aligned = [[sets[i][r] for r in res[n].rows] for i, n in enumerate(names)]
    assert set(aligned[0]) == truth
    assert len(aligned[0]) == len(truth)
    for a in aligned[1:]:
        assert a == aligned[0], "parties disagree on the row order"
    for n in names:
        assert res[n].size == len(truth)


@pytest.mark.parametrize("parties", [2, 3, 4])
def test_intersection_matches_plain_sets(parties: int, rng: np.random.Generator) -> None:
    universe = np.array([f"ID-{i:05d}" for i in range(4000)], dtype=object)
    sets = [
        list(rng.choice(universe, size=int(rng.integers(500, 2500)), replace=False)) for _ in range(parties)
    ]
    _check(sets)


@settings(max_examples=12, deadline=None)
@given(
    st.lists(
        st.sets(st.text(alphabet="abcdefghij0123456789-", min_size=1, max_size=6), min_size=0, max_size=40),
        min_size=2,
        max_size=4,
    )
)
def test_intersection_property(sets: list[set[str]]) -> None:
    _check([sorted(s) for s in sets])


def test_large_lists_cross_batch_boundaries() -> None:
    # more than one 32,768-point batch per list, so relays forward batch by batch
    a = [f"x{i}" for i in range(40_000)]
    b = [f"x{i}" for i in range(5_000, 45_000)]
    res = run_all([a, b])
    assert res["p0"].size == 35_000
    assert [a[r] for r in res["p0"].rows] == [b[r] for r in res["p1"].rows]


def test_disjoint_sets_give_empty_intersection() -> None:
    res = run_all([["a", "b"], ["c", "d"], ["e"]])
    assert all(r.size == 0 for r in res.values())


def test_duplicate_ids_stop_before_any_crypto() -> None:
    from vfl.transport.recording import RecordedMessage

    log: list[RecordedMessage] = []
    with pytest.raises(DataError, match="more than once"):
        run_all([["a", "b", "a"], ["a", "c"]], record=log)
    assert not [m for m in log if m.sender == "p0"], "the party with duplicates sent something"


@pytest.mark.parametrize(("ids", "message"), [(["a", "", "b"], "empty"), (["a", 7, "b"], "not text")])
def test_empty_or_non_text_ids_stop_before_any_crypto(ids: list[object], message: str) -> None:
    with pytest.raises(DataError, match=message):
        run_all([ids, ["a", "c"]])
