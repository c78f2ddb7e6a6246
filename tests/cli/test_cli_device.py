"""`vfl simulate --device`: accepted, validated by click, and carried into the simulation config
and job spec (the simulation itself is replaced: the device's effect is tested in tests/protocols)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import vfl.cli.main as main
from vfl.runtime.modes.config import SimulationConfig
from vfl.runtime.modes.simulate import job_spec


@pytest.mark.parametrize("device", ["cpu", "torch", "cuda", "cupy", "auto"])
def test_simulate_accepts_device(device: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[SimulationConfig] = []

    def fake(cfg: SimulationConfig, progress: Any = None) -> dict[str, Any]:
        seen.append(cfg)
        return {"intersection": 0}

    monkeypatch.setattr("vfl.runtime.modes.simulate.simulate", fake)  # the command imports it when it runs
    args = ["simulate", "--model", "none", "--device", device, "--quiet", "--out", str(tmp_path)]
    res = CliRunner().invoke(main.cli, args)
    assert res.exit_code == 0, res.output
    assert seen[0].device == device and job_spec(seen[0]).device == device
    assert "device" not in seen[0].model_params  # party-local: not an agreed model parameter


def test_simulate_refuses_an_unknown_device_and_lists_the_choices(tmp_path: Path) -> None:
    res = CliRunner().invoke(main.cli, ["simulate", "--device", "tpu", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "auto" in res.output and "cuda" in res.output
    assert not any(tmp_path.iterdir())
