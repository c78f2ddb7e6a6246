"""One key per backend per session (phe keygen and CKKS galois keys are the slow parts)."""

from __future__ import annotations

import numpy as np
import pytest

from vfl.crypto.he import HEScheme, available_backends, make_scheme

BACKENDS = available_backends()
JOB = "job-test-1"

# phe does ~100 enc/s at 2048 bits: give it short vectors
SIZES = {"paillier": 12, "zpaillier": 80, "ou": 300, "ckks": 5000}
# absolute tolerance on values of order 1-100
TOL = {"paillier": 1e-8, "zpaillier": 1e-8, "ou": 1e-8, "ckks": 1e-3}


@pytest.fixture(scope="session")
def keyholders() -> dict[str, HEScheme]:
    return {name: make_scheme(name) for name in BACKENDS}


@pytest.fixture(scope="session")
def other_keys() -> dict[str, HEScheme]:
    return {name: make_scheme(name) for name in BACKENDS}


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, keyholders: dict[str, HEScheme]) -> str:
    return str(request.param)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
