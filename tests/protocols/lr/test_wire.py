"""What crosses the wire in a three-party LR job (one active, two passives), recorded message by
message: the active sees only masked score shares and masked gradients, passives see only
ciphertexts, control words and their own masked-then-unmasked gradient; no label, residual or
feature value travels in the clear."""

from __future__ import annotations

import threading
from collections import Counter

import numpy as np
import pytest

from tests.protocols.lr.conftest import load, split_host
from vfl.crypto.he import scheme_from_public_context
from vfl.data.table import PartyTable
from vfl.protocols.lr.local import Schedule
from vfl.protocols.lr.masking import decode_fixed
from vfl.runtime.models.lr import LRParams, LRPartyModel, fit_lr_party, predict_lr_party
from vfl.transport.memory import MemoryHub
from vfl.transport.recording import RecordedMessage, RecordingChannel
from vfl.wire.arrays import from_ndarray
from vfl.wire.v1 import he_pb2, lr_pb2

PARAMS = LRParams(he="ckks", batch_size=128, epochs=2, learning_rate=0.05)


def _run(tables: list[PartyTable], fn, job: str) -> tuple[dict, list[RecordedMessage]]:  # type: ignore[no-untyped-def]
    log: list[RecordedMessage] = []
    lock = threading.Lock()
    hub = MemoryHub([t.name for t in tables], job)
    out: dict = {}

    def one(t: PartyTable) -> None:
        try:
            out[t.name] = fn(RecordingChannel(hub.channel(t.name), log, lock), t)
        except BaseException as exc:
            hub.mark_dead(t.name, repr(exc))
            raise

    threads = [threading.Thread(target=one, args=(t,)) for t in tables]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert set(out) == {t.name for t in tables}
    return out, log


Run = tuple[list[PartyTable], dict[str, LRPartyModel], list[RecordedMessage], list[RecordedMessage]]


@pytest.fixture(scope="module")
def three_party() -> Run:
    tables, _active = load("breast")
    tables = split_host(tables, 2)
    models, train_log = _run(
        tables, lambda ch, t: fit_lr_party(ch, t, active="guest", params=PARAMS), "lr-wire-train"
    )
    scores, predict_log = _run(
        tables, lambda ch, t: predict_lr_party(ch, models[t.name], t), "lr-wire-predict"
    )
    assert scores["host0"] is None and scores["host1"] is None
    assert scores["guest"].shape == (tables[0].n_rows,)
    return tables, models, train_log, predict_log


def test_message_types_by_direction(three_party) -> None:  # type: ignore[no-untyped-def]
    _, _, log, plog = three_party
    kinds = Counter((m.sender, m.receiver, m.type.split(".")[-1]) for m in log + plog)
    to_active = {k for k in kinds if k[1] == "guest"}
    assert {k[2] for k in to_active} == {"ScoreShare", "CipherBatch", "PartFingerprints", "LRResumeOffer"}
    from_active = {k[2] for k in kinds if k[0] == "guest"}
    assert from_active == {
        "LRSetup",
        "LRResumeStart",
        "CipherBatch",
        "MaskedGradient",
        "LRControl",
        "PartFingerprints",
        "LRPredictSetup",
    }
    between = {k[2] for k in kinds if k[0] != "guest" and k[1] != "guest"}
    assert between == {"MaskKey"}  # passives exchange X25519 public keys and nothing else
    # every topic is unique per (sender, receiver): no message can stand in for another
    assert len({(m.sender, m.receiver, m.topic) for m in log}) == len(log)


def test_active_sees_only_masked_score_shares(three_party) -> None:  # type: ignore[no-untyped-def]
    _, _, log, plog = three_party
    shares: dict[str, dict[str, np.ndarray]] = {}
    for m in log + plog:
        if m.type.endswith("ScoreShare"):
            msg = lr_pb2.ScoreShare.FromString(m.payload)
            assert msg.WhichOneof("share") == "masked"
            shares.setdefault(m.topic, {})[m.sender] = from_ndarray(msg.masked)
    assert len(shares) > 4 and all(set(s) == {"host0", "host1"} for s in shares.values())
    for s in shares.values():
        one = decode_fixed(s["host0"], 32)
        total = decode_fixed(s["host0"] + s["host1"], 32)
        assert np.median(np.abs(one)) > 1e6  # a lone share is uniform in the ring: noise
        assert np.max(np.abs(total)) < 100  # the masks cancel in the sum: real scores


def test_passives_get_ciphertexts_and_masked_gradients_only(three_party) -> None:  # type: ignore[no-untyped-def]
    _, _models, log, _ = three_party
    setup = next(m for m in log if m.type.endswith("LRSetup"))
    ctx = lr_pb2.LRSetup.FromString(setup.payload).he_context
    assert not scheme_from_public_context(ctx, "lr-wire-train").has_secret_key
    grads = [lr_pb2.MaskedGradient.FromString(m.payload) for m in log if m.type.endswith("MaskedGradient")]
    values = np.concatenate([from_ndarray(g.values) for g in grads])
    # what the active returns is still under the passive's one-time mask (uniform in +-2^20)
    assert np.median(np.abs(values)) > 1e4
    for m in log:
        if m.type.endswith("CipherBatch"):
            batch = he_pb2.CipherBatch.FromString(m.payload)
            assert batch.scheme == "ckks" and batch.job_id == "lr-wire-train"
            assert batch.key_fingerprint == ctx.fingerprint


def test_no_label_or_feature_bytes_on_the_wire(three_party) -> None:  # type: ignore[no-untyped-def]
    tables, models, log, plog = three_party
    y = tables[0].label
    assert y is not None
    sched = Schedule(len(y), PARAMS.seed, PARAMS.batch_size, PARAMS.validation_fraction)
    needles = []
    for epoch in range(PARAMS.epochs):
        for rows in sched.batches(epoch)[:3]:
            for dtype in ("<f8", "<i8", "<f4", "|u1"):
                needles.append(y[rows].astype(dtype).tobytes())
    for t in tables:
        std = models[t.name].standardiser.transform(t.features)
        for x in (t.features, std):
            for col in range(x.shape[1]):
                needles.append(np.ascontiguousarray(x[:4, col]).tobytes())
                rows = sched.batches(0)[0][:4]
                needles.append(np.ascontiguousarray(x[rows, col]).tobytes())
            needles.append(np.ascontiguousarray(x[0]).tobytes())
    payloads = [m.payload for m in log + plog]
    hits = [i for i, n in enumerate(needles) if any(n in p for p in payloads)]
    assert not hits


def test_a_fresh_job_offers_no_checkpoint_and_starts_from_scratch(three_party) -> None:  # type: ignore[no-untyped-def]
    _, _, log, _ = three_party
    offers = [m for m in log if m.topic == "lr/resume/offer"]
    starts = [m for m in log if m.topic == "lr/resume/start"]
    assert sorted((m.sender, m.receiver) for m in offers) == [("host0", "guest"), ("host1", "guest")]
    assert all(list(lr_pb2.LRResumeOffer.FromString(m.payload).epochs) == [] for m in offers)
    assert sorted(m.receiver for m in starts) == ["host0", "host1"]
    assert all(lr_pb2.LRResumeStart.FromString(m.payload).epoch == 0 for m in starts)
