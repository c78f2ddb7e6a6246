from __future__ import annotations

import fcntl
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vfl.data.datasets import fate_pair

REPO = Path(__file__).resolve().parents[1]
#: FATE's public vertical splits, shipped inside the package, so a fresh clone needs nothing beside it
FATE_DATA = fate_pair("breast")[0].parent


@pytest.fixture(autouse=True)
def _one_key_pair_per_scheme(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every job of a test worker loads the same real key pair (tests/keypairs.py); tests of key
    generation itself are marked ``fresh_keys`` and make theirs."""
    if request.node.get_closest_marker("fresh_keys"):
        return
    from tests.keypairs import shared_key_pair
    from vfl.crypto.he import keygen

    monkeypatch.setattr(keygen, "_child_key_pair", shared_key_pair)


@pytest.fixture(scope="session")
def fate_dir() -> Path:
    return FATE_DATA


@pytest.fixture(scope="session")
def default_simulation(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """`vfl simulate` with no option at all (the README's main job: PSI of the embedded default
    dataset, LR with CKKS), run once for every test that checks that job or scores its model."""
    from click.testing import CliRunner

    from vfl.cli.main import cli

    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        out = tmp_path_factory.mktemp("default_simulation")
        res = CliRunner().invoke(cli, ["simulate", "--out", str(out)])
        assert res.exit_code == 0, res.output
        return out, res.output
    # under xdist a session fixture runs once per worker: the first worker runs the job into the
    # session's shared folder (the workers' base folders' parent, this session's own) while the
    # others wait on the lock, then read its output
    shared = tmp_path_factory.getbasetemp().parent / "default_simulation"
    shared.mkdir(exist_ok=True)
    out, log = shared / "out", shared / "output.txt"
    with open(shared / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not log.is_file():
            res = CliRunner().invoke(cli, ["simulate", "--out", str(out)])
            assert res.exit_code == 0, res.output
            log.write_text(res.output)
    return out, log.read_text()


@pytest.fixture(scope="session")
def three_party_breast(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """breast (569 rows) as insurer (label + 10), hospital (10) and pharma (10), each missing a
    few patients and in its own order: small enough for process-level tests."""
    guest = pd.read_csv(FATE_DATA / "breast_hetero_guest.csv.gz")
    host = pd.read_csv(FATE_DATA / "breast_hetero_host.csv.gz").set_index("id").loc[guest["id"]].reset_index()
    ids = guest["id"].map(lambda i: f"B-{int(i):04d}")
    frames = {
        "insurer": pd.concat([ids.rename("pid"), guest.drop(columns="id")], axis=1),
        "hospital": pd.concat([ids.rename("pid"), host[[f"x{i}" for i in range(10)]]], axis=1),
        "pharma": pd.concat([ids.rename("pid"), host[[f"x{i}" for i in range(10, 20)]]], axis=1),
    }
    rng = np.random.default_rng(3)
    d = tmp_path_factory.mktemp("breast3")
    out = {}
    for name, df in frames.items():
        df = df[rng.random(len(df)) < 0.95].sample(frac=1.0, random_state=int(rng.integers(1000)))
        out[name] = d / f"{name}.csv"
        df.to_csv(out[name], index=False)
    return out
