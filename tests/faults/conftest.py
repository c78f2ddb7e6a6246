from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.faults.harness import Federation, breast_tables, metrics_of, run_job
from tests.keypairs import reused_key_pairs


@pytest.fixture(scope="session", autouse=True)
def _one_key_pair() -> Iterator[None]:
    with reused_key_pairs(("ou", 2048)):
        yield


@pytest.fixture(scope="session")
def fed() -> Federation:
    return Federation(breast_tables())


@pytest.fixture(scope="session")
def references(fed: Federation, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Per model: the fault-free run's metrics, its model files and its predict job's output."""
    refs: dict[str, Any] = {}
    for model in ("lr", "sbt"):
        root = tmp_path_factory.mktemp(f"ref-{model}")
        run = run_job(fed, fed.spec(model), root / "out", checkpoints=root / "ck")
        assert run.completed, run.errors()
        fed.load_models(root / "out")
        models = fed.models
        pred = run_job(fed, fed.spec(model, "predict"), root / "pout")
        assert pred.completed, pred.errors()
        refs[model] = {
            "metrics": metrics_of(run),
            "models": models,
            "predict": metrics_of(pred),
            "out": root / "out",
        }
    return refs
