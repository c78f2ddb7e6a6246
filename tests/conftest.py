from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data" / "fate"


@pytest.fixture(scope="session")
def fate_dir() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"shared data missing at {SHARED_DATA}: CI clones the repo with shared/ beside it")
    return SHARED_DATA
