"""Compile protocols/proto/vfl/v1/*.proto into vfl/wire/v1/ (checked in; a test re-runs this
and compares). Imports are rewritten to the package path so generated modules import each other.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROTO_ROOT = ROOT / "protocols" / "proto"
OUT = ROOT / "vfl" / "wire" / "v1"


def generate(out_dir: Path) -> list[Path]:
    from grpc_tools import protoc  # type: ignore[import-untyped]

    protos = sorted((PROTO_ROOT / "vfl" / "v1").glob("*.proto"))
    with tempfile.TemporaryDirectory() as tmp:
        args = ["protoc", f"-I{PROTO_ROOT}", f"--python_out={tmp}", f"--pyi_out={tmp}"]
        args.append(f"--grpc_python_out={tmp}")
        rc = protoc.main(args + [str(p.relative_to(PROTO_ROOT)) for p in protos])
        if rc != 0:
            raise SystemExit(f"protoc failed with {rc}")
        written = []
        out_dir.mkdir(parents=True, exist_ok=True)
        for f in sorted((Path(tmp) / "vfl" / "v1").glob("*.py*")):
            text = re.sub(r"^from vfl\.v1 import", "from vfl.wire.v1 import", f.read_text(), flags=re.M)
            if f.name.endswith("_grpc.py") and "def add_" not in text:
                continue  # messages-only protos get no service stubs
            target = out_dir / f.name
            target.write_text(text)
            written.append(target)
        return written


if __name__ == "__main__":
    for p in generate(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT):
        print(p.relative_to(ROOT) if p.is_relative_to(ROOT) else p)
