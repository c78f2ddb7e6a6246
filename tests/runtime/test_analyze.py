"""``vfl analyze`` end to end (CLI, PSI, the protocol, analysis.json, the page): the output
contract reproduces the plaintext WOE/IV and numpy's r on the pooled rows; job files; refusals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from vfl.cli.main import cli
from vfl.compute.woe import bin_counts, woe_iv
from vfl.core.errors import ConfigError
from vfl.runtime.analysis import analyze, load_analysis_job
from vfl.runtime.models.registry import JOB_KINDS


@pytest.fixture(scope="module")
def with_missing(
    three_party_breast: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """The three files with missing values: many in one column per party (a bin of their own),
    a handful in another (too few for a bin: they join bin 0)."""
    d = tmp_path_factory.mktemp("breast3-missing")
    out = {}
    for i, (name, path) in enumerate(three_party_breast.items()):
        df = pd.read_csv(path)
        cols = [c for c in df.columns if c not in ("pid", "y")]
        df.loc[df.index[i::9], cols[0]] = np.nan
        df.loc[df.index[:3], cols[2]] = np.nan
        out[name] = d / f"{name}.csv"
        df.to_csv(out[name], index=False)
    return out


@pytest.fixture(scope="module")
def analysed(with_missing: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    three_party_breast = with_missing
    out = tmp_path_factory.mktemp("analysis")
    args = [
        "analyze",
        "--id-column",
        "pid",
        "--label",
        "insurer:y",
        "--out",
        str(out),
        "--share",
        "pharma=nothing",
        "--min-count",
        "15",
    ]
    for name, path in three_party_breast.items():
        args += ["--data", f"{name}={path}"]
    res = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return {
        "out": out,
        "analysis": json.loads((out / "analysis.json").read_text()),
        "paths": three_party_breast,
        "output": res.output,
    }


def _pooled(paths: dict[str, Path]) -> pd.DataFrame:
    frames = [
        pd.read_csv(p).rename(columns=lambda c, n=n: c if c in ("pid", "y") else f"{n}:{c}")
        for n, p in paths.items()
    ]
    df = frames[0]
    for f in frames[1:]:
        df = df.merge(f, on="pid")
    return df


def test_registry_names_the_job_kind() -> None:
    assert "analyze" in JOB_KINDS and not JOB_KINDS["analyze"].trains


def test_output_contract_reproduces_plaintext_woe_iv(analysed: dict[str, Any]) -> None:
    a = analysed["analysis"]
    df = _pooled(analysed["paths"])
    assert a["intersection"] == len(df)
    y = df["y"].to_numpy(np.float64)
    assert len(a["features"]) == 30
    folded = own = 0
    for f in a["features"]:
        assert {"party", "name", "edges", "woe", "iv"} <= set(f)
        folded += f["missing_bin"] == 0 and f["missing_rate"] > 0
        own += f["missing_bin"] == f["n_bins"] - 1 and f["rows"][-1] > 0
        x = df[f"{f['party']}:{f['name']}"].to_numpy(np.float64)
        bins = np.searchsorted(np.asarray(f["edges"]), x, side="right")
        bins[np.isnan(x)] = f["missing_bin"]
        ev, rows = bin_counts(bins, y, f["n_bins"])
        ref = woe_iv(ev, rows, float(y.sum()), float(len(y)))
        assert abs(ref.iv - f["iv"]) <= 1e-9
        for r, w in zip(ref.woe, f["woe"], strict=True):
            assert (r is None) == (w is None) and (r is None or abs(r - w) <= 1e-9)
        assert rows[rows > 0].min() >= 15
    assert folded == 3 and own == 3  # both kinds of missing bin, at every party


def test_correlation_is_numpys_on_the_pooled_columns(analysed: dict[str, Any]) -> None:
    a = analysed["analysis"]
    df = _pooled(analysed["paths"])
    assert len(a["correlation"]) == 10 * 10 * 3
    imputed = 0
    for c in a["correlation"]:
        assert c["a"]["party"] != c["b"]["party"]
        u = df[f"{c['a']['party']}:{c['a']['name']}"].to_numpy(np.float64)
        v = df[f"{c['b']['party']}:{c['b']['name']}"].to_numpy(np.float64)
        if np.isnan(u).any() or np.isnan(v).any():  # the spec: a missing value counts as the mean
            imputed += 1
            u, v = np.where(np.isnan(u), np.nanmean(u), u), np.where(np.isnan(v), np.nanmean(v), v)
        assert abs(np.corrcoef(u, v)[0, 1] - c["r"]) <= 1e-6
    assert 0 < imputed < len(a["correlation"])


def test_selection_page_and_share_policy(analysed: dict[str, Any]) -> None:
    a = analysed["analysis"]
    sel = a["selection"]["features"]
    names = {(f["party"], f["name"]) for f in a["features"]}
    assert set(sel) == {"insurer", "hospital", "pharma"}
    assert all((p, c) in names for p, cols in sel.items() for c in cols)
    assert 0 < sum(len(c) for c in sel.values()) < 30
    # pharma shared nothing: the label holder saw anonymous names and no counts
    assert [s["name"] for s in a["shared"]["pharma"]] == [f"x{i}" for i in range(10)]
    assert all(set(s) == {"name"} for s in a["shared"]["pharma"])
    page = (analysed["out"] / "analysis.html").read_text()
    for heading in ("Information value", "WOE per bin", "Correlation across parties", "Missing rates"):
        assert heading in page
    assert page.count("data:image/svg+xml;base64,") == 4
    assert "IV per feature" in analysed["output"]


def test_job_file(tmp_path: Path, three_party_breast: dict[str, Path]) -> None:
    job = tmp_path / "analysis.toml"
    data = "\n".join(f'{n} = "{p}"' for n, p in three_party_breast.items() if n != "pharma")
    job.write_text(
        f'[analysis]\nid_column = "pid"\nlabel = "insurer:y"\nhe = "ou"\nmax_bin = 6\n'
        f'correlation = false\n\n[data]\n{data}\n\n[share]\nhospital = "quantiles"\n'
    )
    spec = load_analysis_job(job)
    assert spec.he == "ou" and spec.cfg.max_bin == 6 and spec.shares == {"hospital": "quantiles"}
    a = analyze(
        spec.data, spec.id_column, spec.label, tmp_path / "out", he=spec.he, cfg=spec.cfg, shares=spec.shares
    )
    assert a["correlation"] == [] and a["he"] == "ou"
    assert all(f["n_bins"] <= 7 for f in a["features"])
    assert len(a["shared"]["hospital"][0]["quantiles"]) == 9


def test_bad_job_file_and_missing_label(tmp_path: Path, three_party_breast: dict[str, Path]) -> None:
    job = tmp_path / "bad.toml"
    job.write_text("[analysis]\nbins = 3\n")
    with pytest.raises(ConfigError):
        load_analysis_job(job)
    data = tuple(f"{n}={p}" for n, p in three_party_breast.items())
    with pytest.raises(ConfigError, match="label"):
        analyze(data, "pid", None, tmp_path / "out")


def test_bench_records_the_plaintext_baseline_and_an_exact_iv() -> None:
    from vfl.bench.analyze import run_analyze_bench
    from vfl.data.datasets import fate_pair

    guest, host = fate_pair("breast")
    records = run_analyze_bench({"guest": guest, "host": host}, ["ou"])
    base, fed = records
    assert base["system"].startswith("plaintext") and fed["he"] == "ou"
    assert base["rows"] == fed["rows"] == 569 and fed["features"] == 30
    assert fed["max_abs_iv_difference"] <= 1e-9
    assert fed["ratio_to_plaintext"] > 0 and fed["bytes_sent"]["host"] > 0


def test_scorecard_probabilities_equal_the_woe_lr_models(
    three_party_breast: dict[str, Path], tmp_path: Path
) -> None:
    """Each party scores its own bins; base points + the row's bins' points, turned back into a
    probability, is the WOE-LR model's P(y=1) for every aligned row; the table is on the page."""
    from vfl.compute.woe import ScorecardScale
    from vfl.data.readers import read_party_table
    from vfl.protocols.analysis import AnalysisConfig
    from vfl.report.analysis import render_analysis
    from vfl.runtime.analysis import analysis_spec, analyze_party, merge
    from vfl.runtime.modes.local import run_in_memory

    tables = {
        n: read_party_table(p, name=n, id_column="pid", label_column="y" if n == "insurer" else None)
        for n, p in three_party_breast.items()
    }
    cfg = AnalysisConfig(correlation=False, scorecard=True, min_count=15)
    spec = analysis_spec(list(tables), "insurer", "ou", cfg)
    runs = run_in_memory(list(spec.order), spec.job_id, lambda n, ch: analyze_party(spec, tables[n], ch))
    a = merge(spec, runs, cfg)
    card = a["scorecard"]
    df = _pooled(three_party_breast)
    points = {(r["party"], r["name"], r["bin"]): r["points"] for r in card["points"]}
    # the PSI order: ascending normalised ID text
    df = df.assign(_key=df["pid"].astype(str)).sort_values("_key").reset_index(drop=True)
    score = np.full(len(df), card["base_points"])
    for f in a["features"]:
        x = df[f"{f['party']}:{f['name']}"].to_numpy(np.float64)
        b = np.searchsorted(np.asarray(f["edges"]), x, side="right")
        b[np.isnan(x)] = f["missing_bin"]
        score += np.array([points[(f["party"], f["name"], int(k))] for k in b])
    proba = runs["insurer"].scorecard["proba"]
    assert proba is not None and len(proba) == len(df)
    assert np.max(np.abs(ScorecardScale().probability(score) - proba)) <= 1e-9
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(df["y"], proba) > 0.95  # a real model, so equality means something
    page = render_analysis(a)
    assert "Scorecard" in page and f"{card['base_points']:.2f}" in page
