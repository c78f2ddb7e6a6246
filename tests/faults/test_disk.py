"""A real file-size limit (RLIMIT_FSIZE, with SIGXFSZ ignored, so writes fail with EFBIG as the
kernel does on a full disk) hit while an output set is written: a DiskFullError naming the
folder and what to do, and the previous set left whole."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

WRITER = """
import resource, signal, sys
from pathlib import Path
from vfl.core.errors import VflError
from vfl.runtime.store.atomic import atomic_folder, write_bytes_atomic

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
try:
    with atomic_folder(Path(sys.argv[1])) as d:
        write_bytes_atomic(d / "aligned_ids.csv", b"id\\n" * 100)
        write_bytes_atomic(d / "model.json", b"{}" * 10_000)  # over the limit
except VflError as exc:
    print(type(exc).__name__, exc, sep="\\n")
    sys.exit(exc.exit_code)
"""


def test_a_file_size_limit_while_writing_outputs_keeps_the_previous_set(tmp_path: Path) -> None:
    target = tmp_path / "out" / "insurer"
    target.mkdir(parents=True)
    (target / "aligned_ids.csv").write_text("id\nold\n")
    (target / "model.json").write_text('{"old": true}')
    p = subprocess.run(
        [sys.executable, "-c", WRITER, str(target)], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert p.returncode == 2, p.stdout + p.stderr
    kind, message, hint = p.stdout.strip().splitlines()
    assert kind == "DiskFullError"
    assert message == f"cannot write {target}: File too large"
    assert f"free space on the disk holding {target.parent}" in hint
    assert "the previous outputs there are untouched" in hint
    assert (target / "aligned_ids.csv").read_text() == "id\nold\n"
    assert (target / "model.json").read_text() == '{"old": true}'
    assert sorted(p.name for p in target.parent.iterdir()) == ["insurer"]  # no staging folder left
