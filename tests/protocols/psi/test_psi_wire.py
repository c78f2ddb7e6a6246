"""What crosses the wire during PSI is exactly what protocols/specs/psi.md allows.

1. No raw ID, no unkeyed hash of an ID, only the message kinds and routes of the spec.
2. Each party, as an adversary, takes everything it received plus all its own secrets and tries
   to tell which of its IDs outside the intersection another party holds: it finds no evidence
   for any of them, so it can do no better than chance.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
from collections import Counter, defaultdict

import numpy as np
import pytest

from vfl.crypto import psi_group
from vfl.crypto.psi_group import Scalar, points_as_keys
from vfl.executor.local import LocalExecutor
from vfl.protocols.psi.stages import domain_for
from vfl.transport.recording import RecordedMessage
from vfl.wire.arrays import unpack_fixed
from vfl.wire.v1 import psi_pb2

from .conftest import run_all

NAMES = ["p0", "p1", "p2"]  # p0 = comparer, p1 = dealer, p2 = holder


def _sets() -> list[list[str]]:
    common = [f"common-{i}" for i in range(25)]
    only01 = [f"c01-{i}" for i in range(15)]
    only02 = [f"c02-{i}" for i in range(15)]
    only12 = [f"c12-{i}" for i in range(15)]
    alone = [[f"alone{p}-{i}" for i in range(15)] for p in range(3)]
    return [
        common + only01 + only02 + alone[0],
        common + only01 + only12 + alone[1],
        common + only02 + only12 + alone[2],
    ]


@pytest.fixture(scope="module")
def recorded(request: pytest.FixtureRequest) -> tuple[list[RecordedMessage], dict[str, list[Scalar]]]:
    """Run PSI while recording the wire and every secret scalar each party draws."""
    secrets: dict[str, list[Scalar]] = defaultdict(list)
    real_random = Scalar.random

    def spy() -> Scalar:
        s = real_random()
        secrets[threading.current_thread().name.removeprefix("party-")].append(s)
        return s

    mp = pytest.MonkeyPatch()
    mp.setattr(psi_group.Scalar, "random", staticmethod(spy))
    log: list[RecordedMessage] = []
    try:
        run_all(_sets(), record=log, names=NAMES)
    finally:
        mp.undo()
    # the dealer's s is handed to holders over the channel; they "know" it too
    for m in log:
        if m.type == "vfl.v1.SharedScalar":
            msg = psi_pb2.SharedScalar()
            msg.ParseFromString(m.payload)
            secrets[m.receiver].append(Scalar(msg.scalar))
    return log, dict(secrets)


def _points_received(log: list[RecordedMessage], party: str) -> np.ndarray:
    """Every point the party received, except its own list coming home round the ring: that list
    holds all of its own IDs by construction, so it says nothing about anyone else's."""
    keys = []
    for m in log:
        if m.receiver == party and m.type == "vfl.v1.PointBatch":
            b = psi_pb2.PointBatch()
            b.ParseFromString(m.payload)
            if b.stage == psi_pb2.PSI_STAGE_RING and b.owner == party:
                continue
            keys.append(points_as_keys(unpack_fixed(b.points, 32)))
    return np.concatenate(keys)


def test_no_raw_or_unkeyed_id_crosses(recorded) -> None:  # type: ignore[no-untyped-def]
    log, _ = recorded
    ids = sorted(set(itertools.chain(*_sets())))
    with LocalExecutor(1) as g:
        unkeyed = g.hash_to_group(ids, domain_for("job-test"))
    blob = b"".join(m.payload for m in log)
    for x in ids:
        assert x.encode() not in blob
        assert hashlib.sha512(x.encode()).digest()[:16] not in blob
    for p in unkeyed:
        assert p.tobytes() not in blob, "an unkeyed hash of an ID crossed the wire"


def test_routes_and_kinds_match_the_spec(recorded) -> None:  # type: ignore[no-untyped-def]
    log, _ = recorded
    routes = Counter()
    for m in log:
        if m.type == "vfl.v1.SharedScalar":
            routes[(m.sender, m.receiver, "shared_scalar")] += 1
            continue
        assert m.type == "vfl.v1.PointBatch", m.type
        b = psi_pb2.PointBatch()
        b.ParseFromString(m.payload)
        routes[(m.sender, m.receiver, psi_pb2.PsiStage.Name(b.stage))] += 1
    expected = {
        # ring: every list passes every hop, p0 -> p1 -> p2 -> p0
        ("p0", "p1", "PSI_STAGE_RING"): 3,
        ("p1", "p2", "PSI_STAGE_RING"): 3,
        ("p2", "p0", "PSI_STAGE_RING"): 3,
        ("p1", "p2", "shared_scalar"): 1,  # dealer's s to the other non-comparer only
        ("p1", "p0", "PSI_STAGE_COMPARE"): 1,
        ("p2", "p0", "PSI_STAGE_COMPARE"): 1,
        ("p0", "p1", "PSI_STAGE_BLIND"): 1,
        ("p1", "p0", "PSI_STAGE_BLIND_RETURN"): 1,
        ("p0", "p1", "PSI_STAGE_RESULT"): 1,
        ("p1", "p0", "PSI_STAGE_FINAL"): 1,
        ("p1", "p2", "PSI_STAGE_FINAL"): 1,
    }
    assert dict(routes) == expected  # one batch per list at this size
    assert not any(m.receiver == "p0" and m.type == "vfl.v1.SharedScalar" for m in log)


def test_sizes_seen_are_only_list_sizes_and_the_intersection(recorded) -> None:  # type: ignore[no-untyped-def]
    log, _ = recorded
    sizes = {len(s) for s in _sets()} | {25}
    for m in log:
        if m.type == "vfl.v1.PointBatch":
            b = psi_pb2.PointBatch()
            b.ParseFromString(m.payload)
            assert b.points.count in sizes, (m.topic, b.points.count)


def _exponent_sets(own: list[Scalar]) -> list[Scalar]:
    """Every product of a subset of the party's secrets and their inverses."""
    pool = own + [s.inverse() for s in own]
    out = []
    for r in range(1, 4):
        for combo in itertools.combinations(pool, r):
            acc = combo[0]
            for s in combo[1:]:
                acc = acc * s
            out.append(acc)
    return out


@pytest.mark.parametrize("attacker", NAMES)
def test_no_party_learns_membership_outside_the_intersection(recorded, attacker: str) -> None:  # type: ignore[no-untyped-def]
    log, secrets = recorded
    mine = _sets()[NAMES.index(attacker)]
    others = [set(s) for i, s in enumerate(_sets()) if NAMES[i] != attacker]
    inter = set(mine).intersection(*others)
    outside = [x for x in mine if x not in inter]
    held_elsewhere = {x for x in outside if any(x in o for o in others)}
    assert held_elsewhere and len(held_elsewhere) < len(outside), "test data must contain both cases"

    received = list(set(_points_received(log, attacker).tolist()))
    exps = _exponent_sets(secrets[attacker])
    # K = prod(a_i * b_i): the attacker legitimately holds F[x] = H(x)^K for its own IDs
    big_k = secrets["p0"][0] * secrets["p0"][1] * secrets["p1"][0] * secrets["p1"][1]
    big_k = big_k * secrets["p2"][0] * secrets["p2"][1]
    with LocalExecutor(2) as g:
        h = g.hash_to_group(mine, domain_for("job-test"))
        f = g.exp(h, big_k)
        evidence = np.zeros(len(mine), dtype=bool)
        for base in (h, f):
            evidence |= np.isin(points_as_keys(base), received)
            for e in exps:
                evidence |= np.isin(points_as_keys(g.exp(base, e)), received)
    found = {x for x, ev in zip(mine, evidence, strict=True) if ev}
    # the attacker recognises exactly the intersection (it is meant to) ...
    assert found == inter
    # ... and nothing outside it: its best guess about 'held by another party' is a coin flip
    guesses = [x in found for x in outside]
    truth = [x in held_elsewhere for x in outside]
    accuracy = np.mean(np.array(guesses) == np.array(truth))
    base_rate = max(np.mean(truth), 1 - np.mean(truth))
    assert accuracy <= base_rate


def test_two_party_wire_carries_only_keyed_lists() -> None:
    """Two parties: each list goes out under the owner's key and comes back under both; no raw
    ID and no unkeyed hash crosses, and each party learns exactly the intersection."""
    a = [f"a-{i}" for i in range(30)] + [f"both-{i}" for i in range(20)]
    b = [f"both-{i}" for i in range(20)] + [f"b-{i}" for i in range(40)]
    log: list[RecordedMessage] = []
    res = run_all([a, b], record=log, names=["p0", "p1"])
    assert (
        [a[r] for r in res["p0"].rows]
        == [b[r] for r in res["p1"].rows]
        == sorted(f"both-{i}" for i in range(20))
    )
    routes = Counter()
    for m in log:
        batch = psi_pb2.PointBatch()
        batch.ParseFromString(m.payload)
        routes[
            (m.sender, m.receiver, psi_pb2.PsiStage.Name(batch.stage), batch.owner, batch.points.count)
        ] += 1
    assert dict(routes) == {
        ("p0", "p1", "PSI_STAGE_RING", "p0", 50): 1,
        ("p1", "p0", "PSI_STAGE_PAIR_RETURN", "p0", 50): 1,
        ("p1", "p0", "PSI_STAGE_RING", "p1", 60): 1,
        ("p0", "p1", "PSI_STAGE_PAIR_RETURN", "p1", 60): 1,
    }
    with LocalExecutor(1) as g:
        unkeyed = g.hash_to_group(a + b, domain_for("job-test"))
    blob = b"".join(m.payload for m in log)
    assert not any(x.encode() in blob for x in a + b)
    assert not any(p.tobytes() in blob for p in unkeyed)
