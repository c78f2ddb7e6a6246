"""Write the key-independent seed corpus under tests/fuzz/corpus/ (run once; the files are
committed). Seeds bound to a key (ciphertexts, public contexts) are made at the start of each
run instead, by the targets themselves.

    python -m tests.fuzz.make_corpus [MODEL_JSON ...]
"""

from __future__ import annotations

import sys
from pathlib import Path

from tests.fuzz.targets import CORPUS, TARGETS


def main(model_files: list[str]) -> None:
    suffix = {"job_toml": ".toml", "party_toml": ".toml", "model_file": ".json"}
    for name, target in TARGETS.items():
        if not target.stored:
            continue
        seeds = [Path(p).read_bytes() for p in model_files] if name == "model_file" else target.seeds()
        d = CORPUS / name
        d.mkdir(parents=True, exist_ok=True)
        for i, seed in enumerate(seeds):
            (d / f"seed-{i}{suffix.get(name, '.bin')}").write_bytes(seed)


if __name__ == "__main__":
    main(sys.argv[1:])
