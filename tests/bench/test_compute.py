"""The compute benchmark runs end to end on small data and checks backends against NumPy."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from click.testing import CliRunner

from vfl.bench.compute import STEPS, run_compute_bench
from vfl.cli.bench_compute import compute

_KEYS = {
    "rows",
    "features",
    "bins",
    "backend",
    "device",
    "step",
    "seconds",
    "numpy_seconds",
    "speedup",
    "agree",
}
_OTHER = "torch-cpu" if importlib.util.find_spec("torch") else "numpy"


def test_records_have_every_step_and_agree() -> None:
    recs = run_compute_bench([20_000], [_OTHER], features=6, bins=16)
    assert [r["step"] for r in recs] == list(STEPS)
    for r in recs:
        assert set(r) == _KEYS
        assert r["rows"] == 20_000 and r["backend"] == _OTHER
        assert r["seconds"] >= 0 and r["numpy_seconds"] >= 0
        assert r["agree"] is True, r


def test_cli_writes_bench_json(tmp_path: Path) -> None:
    res = CliRunner().invoke(
        compute, ["--rows", "20000", "--backend", "numpy", "--features", "4", "--out", str(tmp_path)]
    )
    assert res.exit_code == 0, res.output
    doc = json.loads((tmp_path / "bench.json").read_text())
    assert doc["all_agree"] is True and doc["backends"] == ["numpy"]
    assert {r["step"] for r in doc["records"]} == set(STEPS)
    assert "histogram" in res.output
