"""The Ray executor gives bit-identical results to the local one, and a party on Ray runs PSI
with parties that are not (one local Ray for the whole module, started by the test)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vfl.core.errors import ProtocolError
from vfl.crypto.psi_group import Scalar
from vfl.executor.base import Executor
from vfl.executor.local import LocalExecutor
from vfl.protocols.psi import PsiResult, run_psi
from vfl.runtime.modes.local import run_in_memory
from vfl.transport.channel import Channel

ray = pytest.importorskip("ray", reason="the Ray executor needs the ray extra (pip install 'vfl[ray]')")

from vfl.executor.ray import RayExecutor  # noqa: E402


@pytest.fixture(scope="module")
def on_ray() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


def _sets(n: int, parties: int) -> list[list[str]]:
    """Each party: n IDs, 60 % of them shared by all, the rest its own or shared with one."""
    rng = np.random.default_rng(3)
    shared = [f"s{i}" for i in range(int(n * 0.6))]
    out = []
    for p in range(parties):
        pair = [f"q{(p + 1) % parties}-{i}" for i in range(n // 5)] + [f"q{p}-{i}" for i in range(n // 5)]
        ids = shared + pair
        out.append([ids[i] for i in rng.permutation(len(ids))])
    return out


_WANT: dict[int, dict[str, PsiResult]] = {}  # the all-threads run of each federation, once


def _psi(sets: list[list[str]], executors: dict[str, Executor]) -> dict[str, PsiResult]:
    names = [f"p{i}" for i in range(len(sets))]

    def work(name: str, ch: Channel) -> PsiResult:
        return run_psi(ch, sets[names.index(name)], names, executor=executors[name])

    return run_in_memory(names, "job-ray", work, timeout=120)


def test_group_work_is_bit_identical_and_refuses_bad_points(on_ray: None) -> None:
    ids = [f"id-{i}" for i in range(5000)]  # above the shard size: spread over both actors
    k = Scalar.random()
    with LocalExecutor(2) as local, RayExecutor(workers=2) as remote:
        h_local, h_ray = local.hash_to_group(ids, b"d"), remote.hash_to_group(ids, b"d")
        assert h_ray.tobytes() == h_local.tobytes()
        assert remote.exp(h_ray, k).tobytes() == local.exp(h_local, k).tobytes()
        assert (remote.scalar_mults, remote.hashes) == (5000, 5000)
        bad = h_ray.copy()
        bad[4321] = 0xFF  # not a canonical encoding: the peer's data is refused, as locally
        with pytest.raises(ProtocolError, match="not a valid ristretto255"):
            remote.exp(bad, k)


@pytest.mark.parametrize(("parties", "on_ray_parties"), [(2, ("p0",)), (3, ("p1",)), (3, ("p0", "p1", "p2"))])
def test_psi_on_ray_equals_psi_on_threads(
    on_ray: None, parties: int, on_ray_parties: tuple[str, ...]
) -> None:
    sets = _sets(2500 if parties == 3 else 4000, parties)
    names = [f"p{i}" for i in range(parties)]
    local = {n: LocalExecutor(1) for n in names}
    workers = 2 if len(on_ray_parties) == 1 else 1
    mixed: dict[str, Executor] = {
        n: RayExecutor(workers=workers) if n in on_ray_parties else local[n] for n in names
    }
    try:
        if parties not in _WANT:
            _WANT[parties] = _psi(sets, dict(local))
        want = _WANT[parties]
        got = _psi(sets, mixed)
    finally:
        for e in {*local.values(), *mixed.values()}:
            e.close()
    expected = sorted(set(sets[0]).intersection(*sets[1:]))
    for i, n in enumerate(names):
        assert np.array_equal(got[n].rows, want[n].rows)
        assert [sets[i][r] for r in got[n].rows] == expected
        assert got[n].scalar_mults == want[n].scalar_mults


def test_align_runs_on_the_process_compute_settings(on_ray: None) -> None:
    """``align_party`` with no executor opens one from ``[compute]`` (here ray): the table comes
    back aligned to the same rows as a party on threads."""
    from vfl.data.table import PartyTable
    from vfl.executor.choose import ComputeConfig, using_executor
    from vfl.runtime.job.align import AlignedParty, align_party

    sets = _sets(400, 2)
    tables = {
        f"p{i}": PartyTable(
            f"p{i}", np.asarray(s, dtype=object), np.arange(len(s), dtype=float)[:, None], ["x"]
        )
        for i, s in enumerate(sets)
    }

    def work(name: str, ch: Channel) -> AlignedParty:
        if name == "p0":
            return align_party(ch, tables[name], ["p0", "p1"])  # on Ray, from the settings
        with LocalExecutor(1) as ex:
            return align_party(ch, tables[name], ["p0", "p1"], executor=ex)

    with using_executor(ComputeConfig("ray", workers=1)):
        out = run_in_memory(["p0", "p1"], "job-align", work, timeout=120)
    assert list(out["p0"].table.ids) == list(out["p1"].table.ids) == sorted(set(sets[0]) & set(sets[1]))


def test_parquet_shards_are_read_on_the_party_workers(on_ray: None, tmp_path: Path) -> None:
    """A folder of Parquet shards read through the Ray executor's map is the table read shard by
    shard on the driver, row for row; the actors ran (the reads went to the workers)."""
    import pandas as pd

    from vfl.data.readers import read_party_table

    pytest.importorskip("pyarrow")
    rng = np.random.default_rng(5)
    folder = tmp_path / "shards"
    folder.mkdir()
    for k in range(3):
        n = 50 + 20 * k
        pd.DataFrame(
            {
                "id": [f"r{k}-{i}" for i in range(n)],
                "age": rng.integers(20, 90, n),
                "y": rng.integers(0, 2, n),
            }
        ).to_parquet(folder / f"part-{k}.parquet")
    want = read_party_table(folder, name="a", label_column="y")
    with RayExecutor(workers=2) as ex:
        got = read_party_table(folder, name="a", label_column="y", map_shards=ex.map)
        assert len(ex._started_actors) == 2  # type: ignore[attr-defined]
    assert list(got.ids) == list(want.ids) and got.n_rows == 50 + 70 + 90
    assert np.array_equal(got.features, want.features) and np.array_equal(got.label, want.label)


def test_an_estimator_runs_its_parties_on_ray(on_ray: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """``executor="ray"`` on an estimator: the same model as on threads (OU is exact), and the
    parties' HE work ran as Ray tasks."""
    import pandas as pd

    from tests.conftest import FATE_DATA
    from tests.keypairs import reused_key_pairs
    from vfl import SecureBoostClassifier

    g = pd.read_csv(FATE_DATA / "breast_hetero_guest.csv.gz").set_index("id")
    h = pd.read_csv(FATE_DATA / "breast_hetero_host.csv.gz").set_index("id").loc[g.index]
    y = g.pop("y")
    X = {"insurer": g, "hospital": h}
    params = {"n_estimators": 1, "max_depth": 2, "he": "ou", "random_state": 0}
    tasks: list[int] = []
    submit = RayExecutor.submit

    def counted(self: RayExecutor, *a: Any, **k: Any) -> Any:
        tasks.append(1)
        return submit(self, *a, **k)

    with reused_key_pairs(("ou", 2048)):  # one key generation for both fits
        on_threads = SecureBoostClassifier(**params).fit(X, y).predict_proba(X)
        monkeypatch.setattr(RayExecutor, "submit", counted)
        on_ray = SecureBoostClassifier(**params, executor="ray").fit(X, y).predict_proba(X)
    assert tasks and np.array_equal(on_ray, on_threads)


# ---- SecureBoost: [[g, h]] encrypted and bucket-summed on the party's Ray workers ---------------


def _credit(rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The first ``rows`` rows of FATE's default-credit split: guest X, its labels, host X."""
    from vfl.data.datasets import fate_frames

    guest, host = fate_frames("default_credit")
    guest, host = guest.iloc[:rows], host.set_index("id").loc[guest["id"].iloc[:rows]]
    return guest.drop(columns=["id", "y"]).to_numpy(float), guest["y"].to_numpy(float), host.to_numpy(float)


_WANT_FIT: dict[str, dict[str, object]] = {}


def _sbt(
    executors: dict[str, Executor], data: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> dict[str, object]:
    from vfl.crypto.he import make_scheme, scheme_from_public_context
    from vfl.protocols.secureboost import SBTConfig, train_active, train_passive

    xg, y, xh = data
    cfg = SBTConfig(n_estimators=2, max_depth=3, subsample=0.8)

    def work(name: str, ch: Channel) -> object:
        if name == "guest":
            scheme = make_scheme("ou")
            return train_active(ch, xg, y, scheme, cfg, passives=["host"], executor=executors[name])
        return train_passive(
            ch, xh, active="guest", open_scheme=scheme_from_public_context, executor=executors[name]
        )

    return run_in_memory(["guest", "host"], "job-sbt-ray", work, timeout=300)


def _shape(res: object) -> list[object]:
    """A model without its opaque split ids (fresh random numbers in every run)."""
    trees = getattr(res, "trees", None)
    if trees is not None:
        return [
            [
                (n.id, n.left, n.right, n.owner, n.feature, n.threshold, n.value, n.gain, n.n_rows)
                for n in t.nodes
            ]
            for t in trees
        ]
    splits = res.splits  # type: ignore[attr-defined]
    return sorted((s.feature, s.threshold, s.default_left) for s in splits.values())


@pytest.mark.parametrize("on_ray_party", ["guest", "host"])
def test_secureboost_on_ray_grows_the_same_trees(on_ray: None, on_ray_party: str) -> None:
    """8,200 rows, 6,560 in each tree's sample: two [[g, h]] chunks (4,096 rows), each encrypted
    (label holder) or bucket-summed (passive) as a task on that party's two Ray workers, the
    other party on its own threads. OU is exact: the same trees, leaf weights and split table
    as all on threads."""
    data = _credit(8200)
    local = {n: LocalExecutor(1) for n in ("guest", "host")}
    try:
        if "sbt" not in _WANT_FIT:  # the all-threads run, once for both cases
            _WANT_FIT["sbt"] = _sbt(dict(local), data)
        want = _WANT_FIT["sbt"]
        with RayExecutor(workers=2) as remote:
            got = _sbt({**local, on_ray_party: remote}, data)
            tasks = remote.submitted
    finally:
        for e in local.values():
            e.close()
    assert _shape(got["guest"]) == _shape(want["guest"])
    assert _shape(got["host"]) == _shape(want["host"])
    assert len(got["host"].splits) > 0  # type: ignore[attr-defined]  # the passive's features are used
    # label holder: one encryption per chunk and tree; passive: the root's sums per chunk, then
    # a task per chunk holding rows of each node it builds
    assert tasks == 2 * 2 if on_ray_party == "guest" else tasks > 2 * 2


# ---- LR: a passive's X_p^T [[d]] on its Ray workers ---------------------------------------------


def _lr(executors: dict[str, Executor], data: tuple[np.ndarray, np.ndarray, np.ndarray]) -> dict[str, object]:
    from vfl.crypto.he import make_scheme, scheme_from_public_context
    from vfl.protocols.lr import LRParams, train_active, train_passive

    xg, y, xh = data
    params = LRParams(he="ou", solver="lbfgs", max_iter=4)

    def work(name: str, ch: Channel) -> object:
        if name == "guest":
            return train_active(ch, xg, y, passives=["host"], scheme=make_scheme("ou"), params=params)
        return train_passive(
            ch,
            xh,
            active="guest",
            open_scheme=lambda msg: scheme_from_public_context(msg, ch.job_id),
            params=params,
            executor=executors[name],
        )

    return run_in_memory(["guest", "host"], "job-lr-ray", work, timeout=300)


def test_lr_passive_on_ray_learns_the_same_weights(on_ray: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """3,200 rows: the passive's X_p^T [[d]] is four row-shard tasks on its two Ray workers,
    added in order: the same ciphertexts as the one product on threads. (The one-time gradient
    masks are fixed here: with fresh masks two runs differ in the last bits of (g + r) - r.)"""
    from vfl.protocols.lr import rounds

    monkeypatch.setattr(rounds, "uniform_mask", lambda k, bound: np.linspace(-bound, bound, k))
    data = _credit(3200)
    with LocalExecutor(1) as local:
        want = _lr({"guest": local, "host": local}, data)
        with RayExecutor(workers=2) as remote:
            got = _lr({"guest": local, "host": remote}, data)
            tasks = remote.submitted
    assert tasks == 4 * got["host"].rounds  # type: ignore[attr-defined]  # four shards per HE round
    for name in ("guest", "host"):
        assert np.array_equal(got[name].weights, want[name].weights)  # type: ignore[attr-defined]
    assert np.abs(got["host"].weights).max() > 0  # type: ignore[attr-defined]


def test_serve_runs_its_jobs_on_the_party_compute_settings(
    on_ray: None, three_party_breast: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``vfl serve`` with ``[compute] executor = "ray"``: the jobs it waits for run on Ray (the
    settings in force while it serves), and its first log line says where."""
    from dataclasses import replace

    from vfl.executor.choose import ComputeConfig, current_executor
    from vfl.runtime.job.jobfile import load_party_config
    from vfl.runtime.modes.config import build_simulation_config
    from vfl.runtime.modes.processes import write_federation
    from vfl.runtime.modes.serve import serve
    from vfl.runtime.modes.simulate import job_spec
    from vfl.transport.grpc import MailboxServer

    cfg = build_simulation_config(
        tuple(f"{n}={p}" for n, p in three_party_breast.items()), "pid", "insurer:y", out_dir=tmp_path / "out"
    )
    job = write_federation(cfg, job_spec(cfg, "job-serve-ray"), tmp_path / "fed", tmp_path / "out")
    party = replace(load_party_config(job.parent / "hospital.toml"), compute=ComputeConfig("ray", workers=1))
    seen: list[ComputeConfig] = []

    def no_proposal(self: MailboxServer, timeout: float | None) -> None:
        seen.append(current_executor())

    monkeypatch.setattr(MailboxServer, "next_proposal", no_proposal)
    lines: list[str] = []
    assert serve(party, idle_timeout=0.1, log=lines.append) == []
    assert seen == [ComputeConfig("ray", workers=1)]
    assert current_executor() == ComputeConfig()  # restored when serving ends
    assert "heavy work on a local Ray (1 worker)" in lines[0]


def test_quiet_means_quiet_on_ray(three_party_breast: dict[str, Path], tmp_path: Path) -> None:
    """`vfl simulate --executor ray --quiet` prints nothing: Ray's own warnings (token
    authentication, ...) reached stderr under --quiet."""
    import subprocess
    import sys

    data = [f"--data={n}={p}" for n, p in three_party_breast.items()]
    cmd = [sys.executable, "-m", "vfl", "simulate", "--executor", "ray", "--quiet", "--model", "none"]
    args = [*data, "--id-column", "pid", "--label", "insurer:y", "--out", str(tmp_path / "out")]
    proc = subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (proc.stdout, proc.stderr) == ("", "")
    assert (tmp_path / "out" / "summary.json").is_file()
