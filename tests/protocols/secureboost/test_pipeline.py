"""[[g, h]] in chunks (stages.gh_chunk_rows): the passives sum the root's buckets chunk by chunk
while the label holder encrypts the next, and the model is the one from a single message."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest

from tests.protocols.secureboost.conftest import fit_predict, load, split_rows
from vfl.core.errors import ProtocolError
from vfl.crypto.he import make_scheme
from vfl.protocols.secureboost import stages
from vfl.protocols.secureboost.stages import check_gh_chunk_rows, gh_chunk_rows
from vfl.runtime.models.sbt import SBTParams
from vfl.transport import Channel, RecordedMessage, RecordingChannel
from vfl.wire.v1 import secureboost_pb2 as pb


def _no_ids(part: dict[str, Any]) -> tuple[Any, Any]:
    trees = [[{k: v for k, v in nd.items() if k != "split_id"} for nd in t["nodes"]] for t in part["trees"]]
    return trees, sorted(map(str, part["splits"].values()))


@pytest.mark.parametrize("subsample", [1.0, 0.7])
def test_chunked_gradients_give_the_single_message_model(
    monkeypatch: pytest.MonkeyPatch, subsample: float
) -> None:
    tables, active = load("breast")
    y = tables[active].label
    assert y is not None
    tr, te = split_rows(y, stratify=True)
    params = SBTParams(n_estimators=2, max_depth=3, he="ou", max_bin=16, subsample=subsample)
    log: list[RecordedMessage] = []
    lock = threading.Lock()

    def wrap(ch: Channel) -> Channel:
        return RecordingChannel(ch, log, lock)

    monkeypatch.setattr(stages, "GH_CHUNK_BASE", 64)  # 455 rows: 8 chunks (7 when subsampled)
    chunked, p_chunked = fit_predict(tables, active, params, tr, te, wrap=wrap)
    grads = [r for r in log if r.topic.startswith("sbt/tree0/gh") and r.receiver == "host"]
    n_sampled = len(tr) if subsample == 1 else round(subsample * len(tr))
    assert len(grads) == -(-n_sampled // 64) > 1
    sizes = []
    for r in grads:
        msg = pb.SBTGradients()
        msg.ParseFromString(r.payload)
        assert msg.n_chunks == len(grads) and msg.gh.count <= 64
        sizes.append(msg.gh.count)
    assert sum(sizes) == n_sampled
    monkeypatch.undo()
    whole, p_whole = fit_predict(tables, active, params, tr, te)
    for name in whole:
        assert _no_ids(chunked[name].to_dict()) == _no_ids(whole[name].to_dict())
    np.testing.assert_array_equal(p_chunked, p_whole)


def test_chunk_sizes_are_bounded_and_checked() -> None:
    assert gh_chunk_rows(30_000, True) == 4096 and gh_chunk_rows(30_000, False) == 0
    assert -(-2_000_000 // gh_chunk_rows(2_000_000, True)) <= 64
    assert check_gh_chunk_rows(0, 10**6, "a") == 0
    for bad, n in ((1000, 10_000), (4096, 4096 * 65)):
        with pytest.raises(ProtocolError, match="chunks"):
            check_gh_chunk_rows(bad, n, "a")


def test_chunk_histograms_add_up_to_the_whole() -> None:
    s = make_scheme("ou")
    rng = np.random.default_rng(0)
    g, h = rng.normal(size=300), rng.random(300)
    bins = rng.integers(0, 5, size=(300, 3))
    chunks = list(s.encrypt_gh_chunks(g, h, 128))
    assert [len(c) for c in chunks] == [128, 128, 44]
    parts = [
        s.bucket_sums(c, bins[i * 128 : i * 128 + len(c)], np.arange(len(c)), 5) for i, c in enumerate(chunks)
    ]
    total = s.add_histograms(s.add_histograms(parts[0], parts[1]), parts[2])
    G, H = s.decrypt_histogram(total)
    G0, H0 = s.decrypt_histogram(s.bucket_sums(s.encrypt_gh(g, h), bins, np.arange(300), 5))
    np.testing.assert_array_equal(G, G0)
    np.testing.assert_array_equal(H, H0)
