"""Every user-facing failure of `vfl run` prints one short paragraph: the cause, then the next
step, no traceback, and a non-zero exit."""

from __future__ import annotations

import shutil
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


def test_wrong_certificate(three_party_breast: dict[str, Path], tmp_path: Path) -> None:
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
    other = tmp_path / "other-ca"  # the insurer presents a certificate from another federation
    init_ca(other)
    files = issue_party_cert(other, "insurer")
    certs = job.parent / "certs"
    shutil.copy(files.cert, certs / "insurer.pem")
    shutil.copy(files.key, certs / "insurer.key")
    shutil.copy(other / "ca.pem", certs / "ca.pem")
    code, out = _run_insurer(job, "--connect-timeout", "3")
    _assert_paragraph(code, out, "TLS handshake", "federation CA")
    for t in threads:
        t.join(15)


def test_bad_config_and_unknown_option(tmp_path: Path) -> None:
    (tmp_path / "job.toml").write_text("[job]\nid = 'j1'\nparties = ['insurer']\n")
    code, out = _run_insurer(tmp_path / "job.toml")
    _assert_paragraph(code, out, "at least two parties", "add a party")
    res = CliRunner().invoke(cli, ["run", "x.toml", "--as", "insurer", "--frobnicate"])
    assert res.exit_code == 2 and "No such option '--frobnicate'" in res.output and "--help" in res.output
