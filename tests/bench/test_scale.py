"""``vfl bench scale``'s pieces: one point gives the right intersection with its stages, bytes
and training stages, and the growth exponent is the slope of log time on log rows."""

from __future__ import annotations

import pytest

from vfl.bench.scale import MODELS, STAGES, growth_exponents, resampled_tables, run_point


def test_one_point_reports_stages_bytes_and_memory() -> None:
    r = run_point(parties=2, rows=3000, executor="local", cores=2, models=MODELS)
    assert r["correct"] and r["intersection"] == 2400
    assert set(r["seconds"]) == set(STAGES)
    assert all(r["seconds"][m] > 0 and r["bytes_sent_per_party_train"][m] > 0 for m in MODELS)
    assert r["seconds"]["psi"] >= r["seconds"]["exchange"] > 0
    assert r["scalar_mults"] == 2 * 2 * 3000
    # each party sends its list out and the peer's back: 2 x 3000 points of 32 bytes, plus framing
    assert 2 * 3000 * 32 <= r["bytes_sent_per_party"] < 2 * 3000 * 32 * 1.01
    assert r["peak_rss_mib_all_parties"] > 0 and r["peak_rss_mib_ray_worker"] == 0


def test_growth_exponent_is_the_log_log_slope() -> None:
    points = [
        {"rows_per_party": n, "seconds": {s: 2e-6 * n**1.5 if s == "order" else 1e-5 * n for s in STAGES}}
        for n in (1_000, 10_000, 100_000)
    ]
    exps = growth_exponents(points)
    assert exps["psi"] == pytest.approx(1.0) and exps["order"] == pytest.approx(1.5)
    assert growth_exponents(points[:1]) == {}


def test_the_command_prints_and_writes_every_point(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    from click.testing import CliRunner

    from vfl.cli.bench_scale import scale

    args = ["--rows", "2000,4000", "--executors", "local", "--models", "", "--out", str(tmp_path)]
    out = CliRunner().invoke(scale, args)
    assert out.exit_code == 0, out.output
    assert "exponent" in out.output
    data = json.loads((tmp_path / "bench.json").read_text())
    assert [r["rows_per_party"] for r in data["records"]] == [2000, 4000]
    assert all(r["correct"] and r["cpu_seconds"] > 0 for r in data["records"])
    assert set(data["growth_exponents"]["local"]) == {"ids", "check", "exchange", "order", "psi"}


def test_stream_point_streams_both_parties() -> None:
    r = run_point(parties=2, rows=2000, executor="local", cores=2, stream=True)
    assert r["correct"] and r["intersection"] == 1600 and r["executor"] == "local+stream"
    assert r["scalar_mults"] == 2 * 2 * 2000


def test_training_tables_deal_real_columns_to_the_parties() -> None:
    """Rows drawn from default-credit: every column once, the label at the first party."""
    t = resampled_tables(["a", "b", "c"], 500)
    names = [f for p in t.values() for f in p.feature_names]
    assert len(names) == len(set(names)) == 23
    assert all(p.features.shape[0] == 500 for p in t.values())
    assert t["a"].label is not None and t["b"].label is None and set(t["a"].label) == {0.0, 1.0}
