"""The exposure/offset column at the label holder: read as numbers in every row, kept out of the
features, named by `vfl simulate --offset NAME:COL` and `[data] offset_column`, and stored by
name (never by value) in the trained part."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vfl.core.errors import ConfigError, DataError
from vfl.data.readers import read_party_table, table_from_frame
from vfl.runtime.job.jobfile import load_party_config
from vfl.runtime.modes.config import build_simulation_config


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": ["a", "b", "c", "d"],
            "x": [1.0, 2.0, 3.0, 4.0],
            "y": [0.0, 1.0, 2.0, 1.0],
            "log_exposure": np.log([0.5, 1.0, 1.0, 2.0]),
        }
    )


def test_the_offset_column_is_read_and_is_not_a_feature(tmp_path: Path) -> None:
    path = tmp_path / "insurer.csv"
    _frame().to_csv(path, index=False)
    t = read_party_table(path, name="insurer", label_column="y", offset_column="log_exposure")
    assert t.feature_names == ["x"] and t.offset_name == "log_exposure"
    assert t.offset is not None
    np.testing.assert_allclose(t.offset, np.log([0.5, 1.0, 1.0, 2.0]))
    taken = t.take(np.array([3, 0]))
    assert taken.offset is not None
    np.testing.assert_allclose(taken.offset, np.log([2.0, 0.5]))
    plain = read_party_table(path, name="insurer", label_column="y")
    assert plain.offset is None and "log_exposure" in plain.feature_names


@pytest.mark.parametrize(
    "bad,match", [([0.0, None, 1.0, 2.0], "empty in 1 rows"), (["0", "x", "1", "2"], "not numeric")]
)
def test_a_missing_or_text_offset_is_refused(bad: list, match: str) -> None:
    df = _frame().assign(log_exposure=bad)
    with pytest.raises(DataError, match=match):
        table_from_frame(df, name="insurer", label_column="y", offset_column="log_exposure")
    with pytest.raises(DataError, match="no offset column 'exposure'"):
        table_from_frame(_frame(), name="insurer", label_column="y", offset_column="exposure")


def test_cli_and_party_config_name_the_offset(tmp_path: Path) -> None:
    for n in ("insurer", "hospital"):
        _frame().drop(columns=[] if n == "insurer" else ["y", "log_exposure"]).to_csv(
            tmp_path / f"{n}.csv", index=False
        )
    data = (f"insurer={tmp_path / 'insurer.csv'}", f"hospital={tmp_path / 'hospital.csv'}")
    cfg = build_simulation_config(data, "id", "insurer:y", "insurer:log_exposure", model="sbt", he="ou")
    assert [(p.name, p.offset_column) for p in cfg.parties] == [
        ("insurer", "log_exposure"),
        ("hospital", None),
    ]
    with pytest.raises(ConfigError, match="label is held by 'insurer'"):
        build_simulation_config(data, "id", "insurer:y", "hospital:x", model="sbt", he="ou")
    with pytest.raises(ConfigError, match="not used by --model lr"):
        build_simulation_config(data, "id", "insurer:y", "insurer:log_exposure", model="lr", he="ckks")
    with pytest.raises(ConfigError, match="--offset 'insurer' is not NAME:COLUMN"):
        build_simulation_config(data, "id", "insurer:y", "insurer", model="sbt", he="ou")
    toml = tmp_path / "insurer.toml"
    toml.write_text(
        '[party]\nname = "insurer"\nlisten = "127.0.0.1:50051"\n\n[data]\npath = "insurer.csv"\n'
        'label_column = "y"\noffset_column = "log_exposure"\n\n[peers]\nhospital = "127.0.0.1:50052"\n'
    )
    assert load_party_config(toml).offset_column == "log_exposure"


def test_vfl_predict_reads_the_trained_category_map_and_the_offset(tmp_path: Path) -> None:
    """Train with `vfl simulate` on text columns and an exposure, then score the same files with
    `vfl predict`'s code path: each party reads its columns with its part's category map, and
    the label holder its offset column, so the scores equal the training run's."""
    from tests.protocols.secureboost.tables import frame
    from vfl.runtime.modes.predict import predict_local
    from vfl.runtime.modes.simulate import simulate

    df, label = frame("insurance")
    df["log_holders"] = np.log(df.pop("Holders").to_numpy(np.float64))
    paths = {}
    for name, cols in (("insurer", ["Group", label, "log_holders"]), ("hospital", ["Age", "District"])):
        paths[name] = tmp_path / f"{name}.csv"
        df[["id", *cols]].to_csv(paths[name], index=False)
    data = tuple(f"{n}={p}" for n, p in paths.items())
    params = {"objective": "count:poisson", "n_estimators": 3, "max_depth": 2, "min_child_weight": 0.0}
    cfg = build_simulation_config(
        data,
        "id",
        f"insurer:{label}",
        "insurer:log_holders",
        model="sbt",
        he="ou",
        model_params=params,
        out_dir=tmp_path / "out",
        test_size=0.0,
    )
    summary = simulate(cfg)
    res = predict_local(tmp_path / "out", paths, out_dir=tmp_path / "pred")
    assert res["rows_scored"] == len(df)
    scores = pd.read_csv(res["predictions"])
    assert len(scores) == len(df) and np.isfinite(scores.iloc[:, -1]).all()
    pred = scores.set_index(scores.columns[0]).iloc[:, -1].reindex(df["id"]).to_numpy()
    y = df[label].to_numpy(np.float64)
    deviance = 2 * np.mean(np.where(y > 0, y * np.log(np.maximum(y, 1) / pred), 0.0) - (y - pred))
    assert deviance == pytest.approx(summary["metrics"]["train_mean_poisson_deviance"], rel=1e-6)
