"""``vfl bench simulate``: the job runs as the README's command does, and its floor is PSI's group
work (counted by the job, priced at this machine's rates) plus the job's training."""

from __future__ import annotations

from pathlib import Path

from vfl.bench.simulate import run_simulate_bench


def test_simulate_against_its_floor(three_party_breast: dict[str, Path]) -> None:
    args = [f"--data={n}={p}" for n, p in three_party_breast.items()]
    r = run_simulate_bench([*args, "--id-column", "pid", "--label", "insurer:y", "--he", "ou"])
    s = r["seconds"]
    rows = [len(p.read_text().splitlines()) - 1 for p in three_party_breast.values()]
    assert r["hashes"] == sum(rows) and r["scalar_mults"] > 2 * sum(rows)  # three parties: k^3
    assert 0 < s["psi_floor"] < s["psi"] and 0 < s["train"] < s["job_total"] < s["wall"]
    assert r["wall_over_floor"] == s["wall"] / (s["psi_floor"] + s["train"]) > 1
    assert r["metrics"]["test_auc"] > 0.9  # the job really trained
