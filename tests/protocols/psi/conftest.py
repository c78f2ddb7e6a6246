from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from vfl.protocols.psi import PsiResult, run_psi
from vfl.runtime.modes.local import run_in_memory
from vfl.transport.channel import Channel
from vfl.transport.recording import RecordedMessage


def run_all(
    sets: Sequence[Sequence[str]], record: list[RecordedMessage] | None = None, names: list[str] | None = None
) -> dict[str, PsiResult]:
    names = names or [f"p{i}" for i in range(len(sets))]
    by_name = dict(zip(names, sets, strict=True))

    def work(name: str, ch: Channel) -> PsiResult:
        return run_psi(ch, list(by_name[name]), names)

    return run_in_memory(names, "job-test", work, timeout=60, record=record)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)
