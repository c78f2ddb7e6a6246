"""What crosses the wire in a three-party SecureBoost job (active + two passives), recorded.

Passives receive only ciphertexts, the schedule, row partitions (bitmaps) and the split
decisions addressed to them; the active receives only packed encrypted histograms, bitmaps and
opaque split ids. No float leaves anyone in the clear: no gradient, label or threshold.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest
from google.protobuf.message import Message

from tests.protocols.secureboost.conftest import fit_predict, load, split_rows
from vfl.crypto.he.wire import bins_carried
from vfl.data.table import PartyTable
from vfl.runtime.models.sbt import SBTParams
from vfl.transport import Channel, RecordedMessage, RecordingChannel
from vfl.wire.v1 import he_pb2
from vfl.wire.v1 import secureboost_pb2 as pb

TO_PASSIVE = {
    "SBTSetup",
    "SBTResumeStart",
    "SBTGradients",
    "SBTLevelPlan",
    "SBTSplitDecisions",
    "SBTPredictRequest",
}
TO_ACTIVE = {"SBTPassiveInfo", "SBTResumeOffer", "SBTHistograms", "SBTSplitOutcomes", "SBTRouting"}


def _walk(msg: Message) -> Any:
    """Every (sub)message inside ``msg``, depth first."""
    yield msg
    for field, value in msg.ListFields():
        if field.type != field.TYPE_MESSAGE:
            continue
        for v in value if field.is_repeated else [value]:
            yield from _walk(v)


@pytest.fixture(scope="module")
def recorded() -> dict[str, Any]:
    tables, active = load("breast")
    host = tables["host"]
    half = host.n_features // 2
    parts = {
        "guest": tables["guest"],
        "lab": PartyTable("lab", host.ids, host.features[:, :half], host.feature_names[:half]),
        "clinic": PartyTable("clinic", host.ids, host.features[:, half:], host.feature_names[half:]),
    }
    y = tables["guest"].label
    assert y is not None
    tr, te = split_rows(y, stratify=True)
    log: list[RecordedMessage] = []
    lock = threading.Lock()

    def wrap(ch: Channel) -> Channel:
        return RecordingChannel(ch, log, lock)

    params = SBTParams(n_estimators=2, max_depth=3, he="ou", max_bin=16)
    models, proba = fit_predict(parts, active, params, tr, te, wrap=wrap)
    return {"log": log, "models": models, "active": active, "y": y, "tr": tr, "te": te, "proba": proba}


def _parse(rec: RecordedMessage) -> Message:
    cls = getattr(pb, rec.type.rsplit(".", 1)[1])
    msg = cls()
    msg.ParseFromString(rec.payload)
    return msg


def test_message_types_by_direction(recorded: dict[str, Any]) -> None:
    active = recorded["active"]
    log: list[RecordedMessage] = recorded["log"]
    assert log
    for rec in log:
        name = rec.type.rsplit(".", 1)[1]
        assert active in (rec.sender, rec.receiver), "passives never talk to each other"
        assert name in (TO_PASSIVE if rec.sender == active else TO_ACTIVE), rec
        assert rec.topic.startswith("sbt/")
    topics = [(r.sender, r.receiver, r.topic) for r in log]
    assert len(topics) == len(set(topics)), "every topic is used once per pair of parties"


def test_no_plaintext_numbers_cross(recorded: dict[str, Any]) -> None:
    """Only bitmaps travel as arrays; every ciphertext is bound to the key and the job."""
    log: list[RecordedMessage] = recorded["log"]
    setup = next(_parse(r) for r in log if r.type.endswith("SBTSetup"))
    fingerprint = setup.he_context.fingerprint
    job = recorded["models"][recorded["active"]].job_id
    assert setup.he_context.scheme == "ou" and fingerprint
    n_cipher = 0
    for rec in log:
        for m in _walk(_parse(rec)):
            for field, _ in m.ListFields():
                assert field.type not in (field.TYPE_DOUBLE, field.TYPE_FLOAT), (rec.type, field.name)
            if m.DESCRIPTOR.full_name == "vfl.v1.NDArray":
                assert m.dtype == "|u1", f"{rec.type} carries a {m.dtype} array"
            if isinstance(m, he_pb2.CipherBatch) and m.scheme:
                n_cipher += 1
                assert (m.scheme, m.key_fingerprint, m.job_id) == ("ou", fingerprint, job)
            if isinstance(m, he_pb2.EncryptedHistogramMsg):
                assert (m.scheme, m.key_fingerprint, m.job_id) == ("ou", fingerprint, job)
                assert m.bins_per_ciphertext > 1, "histograms travel packed"
                assert m.g.n_ciphertexts < m.n_features * m.n_bins
                per, carried = m.bins_per_ciphertext, bins_carried(m)  # only occupied bins travel
                assert 1 <= carried <= m.n_features * m.n_bins and m.g.n_ciphertexts == -(-carried // per)
    assert n_cipher > 0


def test_gradients_and_labels_never_in_clear(recorded: dict[str, Any]) -> None:
    y, tr = recorded["y"], recorded["tr"]
    p0 = float(np.mean(y[tr]))  # tree 0: every row's g is p0 - y, h is p0 (1 - p0)
    secrets = {p0 - 1.0, p0, p0 * (1 - p0)}
    payloads = b"".join(r.payload for r in recorded["log"])
    for v in secrets:
        assert np.float64(v).tobytes() not in payloads
        assert np.float32(v).tobytes() not in payloads


def test_split_decisions_reach_only_their_owner(recorded: dict[str, Any]) -> None:
    active = recorded["active"]
    model = recorded["models"][active]
    asked: dict[tuple[int, int], str] = {}
    for rec in recorded["log"]:
        if rec.type.endswith("SBTSplitDecisions"):
            msg = _parse(rec)
            for d in msg.decisions:
                assert (msg.tree, d.node) not in asked
                asked[(msg.tree, d.node)] = rec.receiver
    owned = {
        (t, n.id): n.owner
        for t, tree in enumerate(model.trees)
        for n in tree.nodes
        if not n.is_leaf and n.owner != active
    }
    assert asked == owned and set(owned.values()) <= {"lab", "clinic"}
    assert owned, "the passives' features should win some splits"
    for tree in model.trees:  # the active never holds a passive's threshold or feature
        for n in tree.nodes:
            if n.owner and n.owner != active:
                assert np.isnan(n.threshold) and n.feature == -1 and n.split_id > 0


def test_thresholds_never_leave_a_passive(recorded: dict[str, Any]) -> None:
    payloads = b"".join(r.payload for r in recorded["log"])
    model_ids = {n.split_id for t in recorded["models"][recorded["active"]].trees for n in t.nodes}
    for name in ("lab", "clinic"):
        splits = recorded["models"][name].splits
        assert splits and set(splits) <= model_ids
        for s in splits.values():
            if np.isfinite(s.threshold):
                assert np.float64(s.threshold).tobytes() not in payloads
                assert np.float32(s.threshold).tobytes() not in payloads
        assert not recorded["models"][name].trees


def test_three_party_model_is_useful(recorded: dict[str, Any]) -> None:
    from sklearn.metrics import roc_auc_score

    y, te = recorded["y"], recorded["te"]
    assert roc_auc_score(y[te], recorded["proba"]) > 0.95
