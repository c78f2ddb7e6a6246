"""Full-batch L-BFGS (the default LR solver): the split two-loop recursion is the textbook one,
the line search meets the Wolfe conditions, the federated fit reaches scikit-learn's own
optimum (the L2 default is its C=1.0), what crosses the wire is masked, and a killed job
resumes to the same model."""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from tests.protocols.lr.conftest import load, split_host
from tests.runtime.test_resume import Crash, FaultyChannel
from vfl.bench.harness import run_parties
from vfl.core.errors import ConfigError
from vfl.data.table import PartyTable
from vfl.protocols.lr.lbfgs import (
    LineObjective,
    Memory,
    direction_coefficients,
    line_search,
    pack_gram,
    reduce_gram,
    unpack_gram,
)
from vfl.protocols.lr.masking import decode_wide_sum, mask_wide
from vfl.runtime.models.lr import LRParams, LRPartyModel, fit_lr_party
from vfl.runtime.store.checkpoint import Checkpoint
from vfl.transport.channel import Channel
from vfl.transport.recording import RecordedMessage, RecordingChannel
from vfl.wire.arrays import from_ndarray
from vfl.wire.v1 import lr_pb2


# -- the algorithm -------------------------------------------------------------------------------
def _two_loop(s: list[np.ndarray], y: list[np.ndarray], g: np.ndarray) -> np.ndarray:
    """Nocedal & Wright, Algorithm 7.4, on whole vectors: -H g."""
    q, alphas = g.copy(), []
    for si, yi in zip(reversed(s), reversed(y), strict=True):
        a = (si @ q) / (si @ yi)
        alphas.append(a)
        q -= a * yi
    r = q * (s[-1] @ y[-1]) / (y[-1] @ y[-1])
    for si, yi, a in zip(s, y, reversed(alphas), strict=True):
        r += si * (a - (yi @ r) / (si @ yi))
    return -r


def test_split_recursion_equals_the_textbook_one() -> None:
    rng = np.random.default_rng(0)
    dim, k = 12, 4
    s = [rng.normal(size=dim) for _ in range(k)]
    y = [si + 0.1 * rng.normal(size=dim) for si in s]  # positive curvature
    g, w = rng.normal(size=dim), rng.normal(size=dim)
    # three parties hold 5, 4 and 3 coordinates; only their Gram matrices are summed
    cuts = [slice(0, 5), slice(5, 9), slice(9, 12)]
    mems = [Memory(10, [si[c] for si in s], [yi[c] for yi in y]) for c in cuts]
    gram = sum(
        m.basis(None, g[c], w[c]).T @ m.basis(None, g[c], w[c]) for m, c in zip(mems, cuts, strict=True)
    )
    coef = direction_coefficients(gram)
    d = np.concatenate([m.direction(coef, g[c]) for m, c in zip(mems, cuts, strict=True)])
    np.testing.assert_allclose(d, _two_loop(s, y, g), rtol=1e-10, atol=1e-12)
    assert d @ g < 0  # a descent direction
    np.testing.assert_array_equal(unpack_gram(pack_gram(gram), gram.shape[0]), gram)


def test_reduce_gram_drops_a_rejected_pair_and_the_oldest_beyond_memory() -> None:
    k = 3  # basis s0 s1 s2 y0 y1 y2 g w: index each entry by its row and column
    gram = np.add.outer(np.arange(2 * k + 2) * 10.0, np.arange(2 * k + 2))
    kept = reduce_gram(gram, pending=True, keep=True, size=2)  # s0/y0 forgotten
    np.testing.assert_array_equal(kept[:, 0], gram[[1, 2, 4, 5, 6, 7], 1])
    rejected = reduce_gram(gram, pending=True, keep=False, size=10)  # s2/y2 dropped
    np.testing.assert_array_equal(np.diag(rejected), np.diag(gram)[[0, 1, 3, 4, 6, 7]])


def test_line_search_meets_the_strong_wolfe_conditions() -> None:
    rng = np.random.default_rng(1)
    n = 400
    u, du = rng.normal(size=n), 3.0 * rng.normal(size=n)
    y = (rng.random(n) < 0.5).astype(float)
    phi = LineObjective(u, du, y, np.ones(n), float(n), 1e-3, 2.0, 0.1, 0.5)
    f0, d0, _ = phi(0.0)
    if d0 > 0:  # make it a descent direction
        phi = LineObjective(u, -du, y, np.ones(n), float(n), 1e-3, 2.0, -0.1, 0.5)
        f0, d0, _ = phi(0.0)
    for a0 in (1e-6, 1.0, 1e6):  # too short, about right, far too long
        a, f = line_search(phi, a0)
        _, d, _ = phi(a)
        assert a > 0 and f <= f0 + 1e-4 * a * d0 and abs(d) <= 0.9 * abs(d0)
    assert line_search(LineObjective(u, 0 * du, y, np.ones(n), float(n), 0.0, 0.0, 0.0, 0.0), 1.0)[0] == 0.0


def test_wide_masks_cancel_and_hide_each_share() -> None:
    rng = np.random.default_rng(2)
    names = ["p1", "p2", "p3"]
    seeds = {(a, b): rng.bytes(32) for a in names for b in names if a < b}
    values = {n: rng.normal(size=20) * 10.0 ** rng.integers(-12, 4, size=20) for n in names}
    shares = []
    for n in names:
        mine = {o: seeds[tuple(sorted((n, o)))] for o in names if o != n}  # type: ignore[index]
        shares.append(mask_wide(values[n], n, mine, "job|lr/i0/gram"))
        assert np.median(np.abs(decode_wide_sum([shares[-1]]))) > 1e20  # alone: noise
    total = sum(values.values())
    np.testing.assert_allclose(decode_wide_sum(shares), total, rtol=1e-12, atol=1e-27)


# -- parameters ----------------------------------------------------------------------------------
def test_lbfgs_is_the_default_and_minibatch_fields_select_adam() -> None:
    assert LRParams().method == "lbfgs" and LRParams().convergence_tol > 0
    assert LRParams(epochs=3).method == "adam" and LRParams(epochs=3).n_batch == 2048
    assert LRParams(dp_epsilon=8.0).method == "adam"
    assert LRParams(optimizer="sgd").method == "sgd"
    assert LRParams(solver="adam").n_epochs == 4
    assert LRParams().penalty(500) == pytest.approx(1 / 500)  # scikit-learn's C = 1
    assert LRParams(l2=0.0).penalty(500) == 0.0
    for bad in (
        dict(solver="lbfgs", epochs=3),
        dict(solver="lbfgs", dp_epsilon=1.0),
        dict(solver="newton"),
        dict(max_iter=0),
        dict(memory=0),
        dict(solver="sgd", optimizer="adam"),
        dict(tol=-1.0),
    ):
        with pytest.raises(ConfigError):
            LRParams(**bad)  # type: ignore[arg-type]


# -- federated runs ------------------------------------------------------------------------------
def _three() -> dict[str, PartyTable]:
    tables, _ = load("breast")
    return {t.name: t for t in split_host(tables, 2)}  # guest (active), host0, host1


def _fit(
    tables: dict[str, PartyTable],
    params: LRParams,
    wrap=None,
    ckpt: Path | None = None,  # type: ignore[no-untyped-def]
    resume: bool = False,
    job: str = "lbfgs-test",
) -> dict[str, LRPartyModel]:
    def one(ch: Channel) -> LRPartyModel:
        box = Checkpoint(ckpt, ch.me, job, resume=resume) if ckpt else None
        return fit_lr_party(
            wrap(ch) if wrap else ch, tables[ch.me], active="guest", params=params, checkpoint=box
        )

    return run_parties(list(tables), one, job_id=job)


def test_federated_fit_reaches_sklearns_optimum() -> None:
    """Exact HE (OU), tight tolerance: the weights on standardised features are scikit-learn's
    StandardScaler + LogisticRegression(C=1.0) coefficients, intercept included."""
    tables = _three()
    models = _fit(tables, LRParams(he="ou", tol=1e-12, max_iter=200))
    x = np.hstack([tables[n].features for n in ("guest", "host0", "host1")])
    xs = (x - x.mean(axis=0)) / x.std(axis=0)
    sk = LogisticRegression(C=1.0, tol=1e-10, max_iter=10_000).fit(xs, tables["guest"].label)
    ours = np.concatenate([models[n].weights for n in ("guest", "host0", "host1")])
    np.testing.assert_allclose(ours, sk.coef_[0], rtol=0, atol=2e-4)
    assert abs(models["guest"].intercept - sk.intercept_[0]) < 2e-4  # type: ignore[operator]
    stats = models["guest"].fit_stats
    assert stats["solver"] == "lbfgs" and 5 < stats["n_iter"] == stats["rounds"] < 200
    assert stats["seconds_per_round"] > 0
    losses = stats["loss_history"]
    assert all(b <= a for a, b in itertools.pairwise(losses))  # every step descends
    assert models["host0"].fit_stats["n_iter"] == stats["n_iter"]


@pytest.fixture(scope="module")
def recorded() -> tuple[dict[str, PartyTable], dict[str, LRPartyModel], list[RecordedMessage]]:
    tables = _three()
    log: list[RecordedMessage] = []
    lock = threading.Lock()
    models = _fit(
        tables, LRParams(he="ckks"), wrap=lambda ch: RecordingChannel(ch, log, lock), job="lbfgs-wire"
    )
    return tables, models, log


def test_wire_of_an_lbfgs_job(recorded) -> None:  # type: ignore[no-untyped-def]
    tables, models, log = recorded
    kinds = Counter((m.sender, m.receiver, m.type.split(".")[-1]) for m in log)
    assert {k[2] for k in kinds if k[1] == "guest"} == {
        "ScoreShare",
        "CipherBatch",
        "PartFingerprints",
        "LRResumeOffer",
    }
    assert {k[2] for k in kinds if k[0] == "guest"} == {
        "LRSetup",
        "LRResumeStart",
        "CipherBatch",
        "MaskedGradient",
        "LRDirection",
        "LRStep",
        "PartFingerprints",
    }
    assert {k[2] for k in kinds if "guest" not in k[:2]} == {"MaskKey"}
    assert len({(m.sender, m.receiver, m.topic) for m in log}) == len(log)
    n_iter = models["guest"].fit_stats["n_iter"]
    assert sum(m.topic.endswith("/step") for m in log) == 2 * n_iter  # one step per passive per iteration
    setup = lr_pb2.LRSetup.FromString(next(m for m in log if m.type.endswith("LRSetup")).payload)
    assert setup.solver == "lbfgs" and setup.l2 == pytest.approx(1 / tables["guest"].n_rows)
    # the Gram shares are wide masked fixed point: alone, noise; summed, the real inner products
    grams: dict[str, list[np.ndarray]] = {}
    for m in log:
        if m.topic.endswith("/gram"):
            msg = lr_pb2.ScoreShare.FromString(m.payload)
            assert msg.WhichOneof("share") == "masked" and msg.frac_bits == 96
            grams.setdefault(m.topic, []).append(from_ndarray(msg.masked))
    assert len(grams) >= n_iter
    for shares in grams.values():
        assert np.median(np.abs(decode_wide_sum(shares[:1]))) > 1e20
        total = decode_wide_sum(shares)
        assert np.all(np.abs(total) < 1e6) and np.max(np.abs(total)) > 0
    # no label or feature column crosses in the clear
    y = tables["guest"].label
    assert y is not None
    needles = [y.astype(d).tobytes()[:64] for d in ("<f8", "<i8", "|u1")]
    for t in tables.values():
        std = models[t.name].standardiser.transform(t.features)
        needles += [
            np.ascontiguousarray(x[:4, c]).tobytes() for x in (t.features, std) for c in range(x.shape[1])
        ]
    assert not [n for n in needles if any(n in m.payload for m in log)]


def test_progress_is_announced_then_reported_per_iteration() -> None:
    tables = _three()
    seen: dict[str, list[tuple[str, int, int]]] = {n: [] for n in tables}

    def one(ch: Channel) -> LRPartyModel:
        return fit_lr_party(
            ch,
            tables[ch.me],
            active="guest",
            params=LRParams(he="ckks", max_iter=3),
            progress=lambda *e: seen[ch.me].append(e),
        )

    models = run_parties(list(tables), one)
    assert models["guest"].fit_stats["n_iter"] == 3  # max_iter bounds the iterations
    assert all(events == [("iteration", i, 3) for i in range(4)] for events in seen.values()), seen


def test_a_killed_job_resumes_to_the_same_model(tmp_path: Path) -> None:
    tables = _three()
    params = LRParams(he="ou", max_iter=8, tol=0.0)
    reference = _fit(tables, params)
    with pytest.raises(Crash):
        _fit(tables, params, wrap=lambda ch: FaultyChannel(ch, "lr/i5/gram"), ckpt=tmp_path)
    for name in tables:
        assert Checkpoint(tmp_path, name, "lbfgs-test", resume=True).steps() == [4, 5]
    resumed = _fit(tables, params, ckpt=tmp_path, resume=True)
    for name, m in reference.items():
        np.testing.assert_array_equal(resumed[name].weights, m.weights)  # exact HE: bit-identical
    assert resumed["guest"].parts == reference["guest"].parts
    assert resumed["guest"].fit_stats["resumed_from_epoch"] == 5
    assert resumed["guest"].fit_stats["rounds"] == 3
    assert resumed["guest"].fit_stats["loss_history"] == reference["guest"].fit_stats["loss_history"]
