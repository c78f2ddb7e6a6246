"""A party's ``[compute]`` section: read and checked with its config, party-local (the job and
so the handshake never carry it), and the executor it names is the one its PSI runs on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vfl.core.errors import ConfigError
from vfl.executor.choose import ComputeConfig, current_executor, open_executor, using_executor
from vfl.executor.local import LocalExecutor
from vfl.runtime.job.jobfile import load_party_config

_BASE = """
[party]
name = "insurer"
listen = "127.0.0.1:5000"
[data]
path = "a.csv"
[peers]
hospital = "127.0.0.1:5001"
"""


def _config(tmp_path: Path, compute: str) -> Path:
    p = tmp_path / "insurer.toml"
    p.write_text(_BASE + compute)
    return p


def test_compute_section_is_read_and_defaults_to_local(tmp_path: Path) -> None:
    assert load_party_config(_config(tmp_path, "")).compute == ComputeConfig()
    cfg = load_party_config(_config(tmp_path, '[compute]\nexecutor = "ray"\naddress = "auto"\nworkers = 8\n'))
    assert cfg.compute == ComputeConfig("ray", "auto", 8)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ('executor = "spark"', "unknown executor"),
        ('executor = "local"\naddress = "h:6379"', "address is for the ray executor"),
        ("workers = 0", "at least 1"),
        ('workers = "two"', "whole number"),
        ("cores = 2", "unknown keys"),
    ],
)
def test_bad_compute_sections_are_refused(tmp_path: Path, section: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_party_config(_config(tmp_path, f"[compute]\n{section}\n"))


def test_the_process_default_is_local_and_scoped() -> None:
    assert current_executor() == ComputeConfig()
    with using_executor(ComputeConfig(workers=1)):
        with open_executor(current_executor()) as ex:
            assert isinstance(ex, LocalExecutor) and ex.workers == 1
            pts = ex.hash_to_group(["a", "b"], b"d")
            assert pts.shape == (2, 32) and pts.dtype == np.uint8
    assert current_executor() == ComputeConfig()
