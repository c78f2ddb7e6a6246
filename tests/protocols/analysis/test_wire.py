"""What crosses the wire in a three-party analysis (label holder + two passives), recorded and
checked against protocols/specs/analysis.md: only ciphertexts, shapes and the aggregates a share
policy allows; no per-row value in the clear; no bin under the minimum count."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from google.protobuf.message import Message

from tests.protocols.analysis.conftest import Run, load_table, run
from vfl.crypto.he.base import CipherVector, EncryptedHistogram
from vfl.protocols.analysis import AnalysisConfig
from vfl.transport.recording import RecordedMessage
from vfl.wire.v1 import analysis_pb2 as pb
from vfl.wire.v1 import he_pb2

FROM_ACTIVE = {"AnalysisSetup", "AnalysisLabels", "CorrelationPlan", "CorrelationColumns"}
TO_ACTIVE = {"AnalysisInfo", "AnalysisBinSums", "CorrelationProducts"}
PASSIVE_TO_PASSIVE = {"CorrelationColumns"}
MIN_COUNT = 25


def _walk(msg: Message) -> Any:
    yield msg
    for field, value in msg.ListFields():
        if field.type == field.TYPE_MESSAGE:
            for v in value if field.is_repeated else [value]:
                yield from _walk(v)


def _parse(rec: RecordedMessage) -> Message:
    msg = getattr(pb, rec.type.rsplit(".", 1)[1])()
    msg.ParseFromString(rec.payload)
    return msg


@pytest.fixture(scope="module", params=["ou", "ckks"])
def recorded(request: pytest.FixtureRequest) -> Run:
    t = load_table("breast_cancer")
    t.X[:40, 0] = np.nan  # a missing bin of its own at the insurer's first column
    t.X[:30, 12] = np.nan  # and at the hospital's third
    return run(
        t,
        "ou",
        cfg=AnalysisConfig(min_count=MIN_COUNT, max_bin=16),
        shares={"hospital": "quantiles", "pharma": "nothing"},
    )


def test_message_types_by_direction(recorded: Run) -> None:
    log = recorded.log
    assert log
    for rec in log:
        name = rec.type.rsplit(".", 1)[1]
        assert rec.topic.startswith("analysis/")
        if rec.sender == "insurer":
            assert name in FROM_ACTIVE, rec.topic
        elif rec.receiver == "insurer":
            assert name in TO_ACTIVE, rec.topic
        else:
            assert name in PASSIVE_TO_PASSIVE, rec.topic
    kinds = {(r.sender, r.receiver, r.type.rsplit(".", 1)[1]) for r in log}
    # the key holder never receives anyone's encrypted columns: it would decrypt them
    assert not any(k[1] == "insurer" and k[2] == "CorrelationColumns" for k in kinds)
    # between the passives, the one with fewer columns (pharma: 10 vs 10, tie -> hospital) encrypts
    assert ("hospital", "pharma", "CorrelationColumns") in kinds
    assert ("pharma", "hospital", "CorrelationColumns") not in kinds


def test_no_per_row_value_in_the_clear(recorded: Run) -> None:
    n = len(recorded.y)
    for rec in recorded.log:
        for m in _walk(_parse(rec)):
            if isinstance(m, he_pb2.CipherBatch | he_pb2.EncryptedHistogramMsg | he_pb2.PublicContext):
                continue  # ciphertexts and keys: checked by the HE tests
            for field, value in m.ListFields():
                if field.is_repeated and field.type != field.TYPE_MESSAGE:
                    assert len(value) < n // 10, f"{rec.topic}: {field.name} has {len(value)} values"
                assert field.type != field.TYPE_BYTES, f"{rec.topic}: raw bytes in {field.name}"


def test_share_policies_are_kept(recorded: Run) -> None:
    infos = {r.sender: _parse(r) for r in recorded.log if r.type.endswith("AnalysisInfo")}
    hosp, pharma = infos["hospital"], infos["pharma"]
    assert isinstance(hosp, pb.AnalysisInfo) and isinstance(pharma, pb.AnalysisInfo)
    assert all(len(f.quantiles) == 9 for f in hosp.features)
    assert [f.name for f in hosp.features] == recorded.parts["hospital"][1]
    # "nothing": not even names or counts
    assert [f.name for f in pharma.features] == [f"x{i}" for i in range(10)]
    assert all(f.present == f.missing == f.distinct == 0 and not f.quantiles for f in pharma.features)
    real = set(recorded.parts["pharma"][1])
    assert not any(name.encode() in r.payload for r in recorded.log for name in real if len(name) > 4)


def test_no_decrypted_bin_under_the_minimum_count(recorded: Run) -> None:
    scheme = recorded.scheme
    sums = [_parse(r) for r in recorded.log if r.type.endswith("AnalysisBinSums")]
    assert len(sums) == 2
    for msg in sums:
        assert isinstance(msg, pb.AnalysisBinSums)
        hist = scheme.deserialize(msg.sums, "job-analysis-test")
        assert isinstance(hist, EncryptedHistogram)
        _, rows = scheme.decrypt_histogram(hist)
        rows = np.rint(rows)  # CKKS decrypts counts to about 1e-6
        nonzero = rows[rows > 0]
        assert nonzero.size and nonzero.min() >= MIN_COUNT
    # and what the label holder reports keeps to it too
    for f in recorded.active.features:
        rows = np.asarray(f["rows"])
        assert rows[rows > 0].min() >= MIN_COUNT


def test_correlation_products_are_only_inner_products(recorded: Run) -> None:
    """Each CorrelationProducts batch decrypts to n * r for the evaluator's columns: the spec's
    'the key holder learns r of each cross-party pair and nothing else'."""
    scheme, n = recorded.scheme, len(recorded.y)
    prods = [(r, _parse(r)) for r in recorded.log if r.type.endswith("CorrelationProducts")]
    assert {(r.sender, m.encryptor) for r, m in prods} == {  # type: ignore[attr-defined]
        ("hospital", "insurer"),
        ("pharma", "insurer"),
        ("pharma", "hospital"),
    }
    for _rec, msg in prods:
        assert isinstance(msg, pb.CorrelationProducts)
        for batch in msg.products:
            v = scheme.deserialize(batch, "job-analysis-test")
            assert isinstance(v, CipherVector) and len(v) == 10
            assert np.all(np.abs(scheme.decrypt(v) / n) <= 1 + 1e-6)
