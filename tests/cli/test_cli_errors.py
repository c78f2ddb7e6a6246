"""Every user-facing failure of `vfl run` prints one short paragraph: the cause, then the next
step, no traceback, and a non-zero exit."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from pathlib import Path

from click.testing import CliRunner

from tests.runtime.test_serve import FAST, _federation
from vfl.cli.main import cli
from vfl.runtime.job.jobfile import load_party_config
from vfl.runtime.modes.serve import serve
from vfl.transport.tls import init_ca, issue_party_cert


def _run_insurer(job: Path, *extra: str) -> tuple[int, str]:
    res = CliRunner().invoke(cli, ["run", str(job), "--as", "insurer", "--quiet", *extra])
    return res.exit_code, res.output


def _assert_paragraph(code: int, out: str, cause: str, step: str) -> None:
    assert code != 0
    assert "Traceback" not in out
    assert out.startswith("error: ") and cause in out
    assert "next step:" in out and step in out
    assert len(out.strip().splitlines()) <= 4


def test_peer_down(three_party_breast: dict[str, Path], tmp_path: Path) -> None:
    job = _federation(three_party_breast, tmp_path)
    code, out = _run_insurer(job, "--connect-timeout", "2")
    _assert_paragraph(code, out, "did not answer in 2 s", "vfl serve")
    assert code == 4


def test_bad_parameters_stop_the_run_before_it_waits_for_peers(
    three_party_breast: dict[str, Path], tmp_path: Path
) -> None:
    job = _federation(three_party_breast, tmp_path)
    job.write_text(job.read_text().replace("epochs = 1", "epochs = 0"))
    code, out = _run_insurer(job, "--connect-timeout", "30")  # no peer runs: it must not wait
    _assert_paragraph(code, out, "epochs", "")
    assert "did not answer" not in out


def test_peer_down_is_awaited_visibly_then_named_with_its_address(
    three_party_breast: dict[str, Path], tmp_path: Path
) -> None:
    job = _federation(three_party_breast, tmp_path)
    res = CliRunner().invoke(cli, ["run", str(job), "--as", "insurer", "--connect-timeout", "2"])
    lines = res.output.splitlines()
    waiting = [line for line in lines if line.startswith("insurer: waiting for ")]
    assert waiting and "hospital (127.0.0.1:" in waiting[0] and "pharma (127.0.0.1:" in waiting[0]
    assert waiting[0].endswith("s left)")
    assert re.search(
        r"hospital at 127\.0\.0\.1:\d+, pharma at 127\.0\.0\.1:\d+ did not answer in 2 s", res.output
    )
    assert res.exit_code == 4


def test_wrong_certificate_names_the_party_at_fault_and_no_grpc_lines(
    three_party_breast: dict[str, Path], tmp_path: Path
) -> None:
    job = _federation(three_party_breast, tmp_path)
    threads = [
        threading.Thread(
            target=serve,
            args=(load_party_config(job.parent / f"{n}.toml"),),
            kwargs={"max_jobs": 1, "idle_timeout": 8, "settings": FAST, "log": lambda m: None},
            daemon=True,
        )
        for n in ("hospital", "pharma")
    ]
    for t in threads:
        t.start()
    other = job.parent / "other-certs"  # the insurer holds certificates from another federation
    init_ca(other)
    issue_party_cert(other, "insurer")
    cfg = job.parent / "insurer.toml"
    cfg.write_text(cfg.read_text().replace('certs = "certs"', 'certs = "other-certs"'))
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRPC_")}
    res = subprocess.run(
        [sys.executable, "-m", "vfl", "run", str(job), "--as", "insurer", "--quiet", "--connect-timeout", "3"],  # noqa: E501
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    out = res.stdout + res.stderr
    _assert_paragraph(
        res.returncode, out.strip() + "\n", "insurer holds certificates from another federation", "ca.pem"
    )
    assert "no peer's certificate (hospital, pharma) is issued by insurer's CA" in out
    assert "Handshake failed" not in out and "ssl_transport_security" not in out
    assert not out.rstrip().endswith(": OK")
    for t in threads:
        t.join(15)


def test_bad_config_and_unknown_option(tmp_path: Path) -> None:
    (tmp_path / "job.toml").write_text("[job]\nid = 'j1'\nparties = ['insurer']\n")
    code, out = _run_insurer(tmp_path / "job.toml")
    _assert_paragraph(code, out, "at least two parties", "add a party")
    res = CliRunner().invoke(cli, ["run", "x.toml", "--as", "insurer", "--frobnicate"])
    assert res.exit_code == 2 and "No such option '--frobnicate'" in res.output and "--help" in res.output
