"""Three real `vfl run` processes over mutual TLS on loopback produce the same models as the
in-memory simulation with the same seed, and the same wire traffic."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from vfl.runtime.modes.config import build_simulation_config
from vfl.runtime.modes.simulate import simulate

# fields that legitimately differ between two runs: the job id, timings, and hashes of the exact
# float bytes (values agree to 1e-6, not bit for bit)
_VOLATILE = {"job_id", "fit_stats", "seconds", "wall_seconds", "parts", "part_sha256", "fingerprint"}


def _close(a: Any, b: Any, ids: dict[str, str], path: str = "") -> list[str]:
    """Differences beyond 1e-6. Opaque split ids are drawn at random in each run: they only
    have to correspond one to one, which ``ids`` (run a's id -> run b's id) checks."""
    if isinstance(a, dict) and isinstance(b, dict):
        if path.endswith(".splits"):  # a passive's split table, keyed by opaque id
            return [d for k, v in a.items() for d in _close(v, b.get(ids.get(k, "?")), ids, f"{path}[{k}]")]
        if set(a) != set(b):
            return [f"{path}: keys {sorted(set(a) ^ set(b))}"]
        out = []
        for k in a:
            if k == "split_id":
                if ids.setdefault(str(a[k]), str(b[k])) != str(b[k]):
                    out.append(f"{path}.split_id: {a[k]} corresponds to two ids")
            elif k not in _VOLATILE:
                out += _close(a[k], b[k], ids, f"{path}.{k}")
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: lengths {len(a)} != {len(b)}"]
        return [
            d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in _close(x, y, ids, f"{path}[{i}]")
        ]
    if isinstance(a, float | int) and isinstance(b, float | int) and not isinstance(a, bool):
        return [] if abs(a - b) <= 1e-6 else [f"{path}: {a} != {b}"]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


@pytest.mark.parametrize(("model", "params"), [("lr", {"epochs": 3}), ("sbt", {"n_estimators": 2})])
def test_three_processes_equal_the_in_memory_run(
    three_party_breast: dict[str, Path], tmp_path: Path, model: str, params: dict[str, Any]
) -> None:
    data = tuple(f"{n}={p}" for n, p in three_party_breast.items())
    runs = {}
    for transport in ("memory", "grpc"):
        cfg = build_simulation_config(
            data,
            "pid",
            "insurer:y",
            model=model,
            he="ou",
            transport=transport,
            seed=7,
            out_dir=tmp_path / transport,
            model_params=params,
        )
        runs[transport] = simulate(cfg)
    mem, grpc = runs["memory"], runs["grpc"]
    assert mem["intersection"] == grpc["intersection"] > 400
    ids: dict[str, str] = {}
    for party in ["insurer", "hospital", "pharma"]:  # the active's trees first: they name the ids
        a = json.loads((tmp_path / "memory" / party / "model.json").read_text())
        b = json.loads((tmp_path / "grpc" / party / "model.json").read_text())
        diffs = _close(a, b, ids)
        assert not diffs, diffs[:5]
        ids_a = (tmp_path / "memory" / party / "aligned_ids.csv").read_text()
        assert ids_a == (tmp_path / "grpc" / party / "aligned_ids.csv").read_text()
    assert mem["metrics"] == pytest.approx(grpc["metrics"], abs=1e-6)
    # the same protocol over either transport: the same bytes per party, give or take the
    # ciphertexts' own randomness in length (a few bytes per value at most)
    for party, sent in mem["bytes_sent"].items():
        assert grpc["bytes_sent"][party] == pytest.approx(sent, rel=0.01)
