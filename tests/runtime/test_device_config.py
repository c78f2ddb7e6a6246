"""A party's compute device travels from the simulation config or its job file to its own
parameters, and never into the handshake that every party must agree on."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from vfl.core.errors import ConfigError
from vfl.runtime.job.handshake import proposal_of, same_job
from vfl.runtime.job.jobfile import load_job
from vfl.runtime.modes.config import build_simulation_config
from vfl.runtime.modes.processes import write_federation
from vfl.runtime.modes.simulate import job_spec

JOB = """[job]
id = "job-dev-1"
parties = ["insurer", "hospital"]
active = "insurer"
model = "lr"
"""


def _job(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "job.toml"
    path.write_text(JOB + extra)
    return path


def test_job_file_device_is_read_and_defaults_to_cpu(tmp_path: Path) -> None:
    assert load_job(_job(tmp_path, "")).spec.device == "cpu"
    spec = load_job(_job(tmp_path, 'device = "auto"\n[params]\nepochs = 2\n')).spec
    assert spec.device == "auto" and spec.model_params == {"epochs": 2}


@pytest.mark.parametrize(
    ("extra", "hint"),
    [
        ('device = "tpu"\n', "use one of"),
        ('[params]\ndevice = "torch"\n', "[job] device"),
    ],
)
def test_bad_or_misplaced_devices_are_refused(tmp_path: Path, extra: str, hint: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_job(_job(tmp_path, extra))
    assert hint in err.value.hint


def test_device_is_not_part_of_the_handshake(tmp_path: Path) -> None:
    cpu = load_job(_job(tmp_path, "")).spec
    gpu = replace(cpu, device="cuda")
    assert proposal_of(gpu) == proposal_of(cpu)  # byte-identical proposal
    assert same_job(cpu)(gpu) is None  # parties may differ in their device


def test_simulation_device_reaches_the_grpc_job_files(tmp_path: Path) -> None:
    cfg = build_simulation_config((), None, None, model="lr", device="torch")
    with pytest.raises(ConfigError, match="device"):
        build_simulation_config((), None, None, model="lr", device="gpu0")
    spec = job_spec(cfg, "job-dev-2")
    job = write_federation(cfg, spec, tmp_path, tmp_path / "out")
    assert load_job(job).spec.device == "torch"


def test_a_party_config_names_its_own_device(tmp_path: Path) -> None:
    from vfl.runtime.job.jobfile import load_party_config

    base = Path(__file__).resolve().parents[2] / "parties" / "hospital.toml"
    assert load_party_config(base).device == "cpu"
    text = base.read_text().replace('device = "cpu"', 'device = "auto"')
    (tmp_path / "hospital.toml").write_text(text)
    cfg = load_party_config(tmp_path / "hospital.toml")
    assert cfg.device == "auto"
    # vfl run: the party config's device, unless the job file names one for this job
    assert load_job(_job(tmp_path, "")).spec_for(cfg).device == "auto"
    assert load_job(_job(tmp_path, 'device = "cpu"\n')).spec_for(cfg).device == "cpu"
    (tmp_path / "hospital.toml").write_text(text.replace('device = "auto"', 'device = "tpu"'))
    with pytest.raises(ConfigError, match="unknown device 'tpu'") as err:
        load_party_config(tmp_path / "hospital.toml")
    assert "[party]" in err.value.hint
