"""`vfl --help` and the help of every command load no heavy library (issue 19: 2.1 s before)."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("pandas", "sklearn", "scipy", "grpc", "pygal", "tenseal", "heu", "xgboost", "dp_accounting")


@pytest.mark.parametrize(
    "args", [["--help"], ["simulate", "--help"], ["run", "--help"], ["report", "--help"], ["certs", "--help"]]
)
def test_help_imports_no_heavy_module(args: list[str]) -> None:
    code = (
        "import sys\n"
        "from vfl.cli.main import cli\n"
        f"try:\n    cli({args!r}, prog_name='vfl')\nexcept SystemExit:\n    pass\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]", out
