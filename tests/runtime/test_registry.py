"""The registry is the one source of model kinds: every door derives from it."""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.metrics import roc_auc_score

import vfl
from vfl.cli.main import cli
from vfl.core.errors import ConfigError
from vfl.runtime.evaluate.compare import bootstrap_auc_difference, versus_own_data
from vfl.runtime.job.jobfile import load_job
from vfl.runtime.job.spec import JobSpec
from vfl.runtime.models.registry import HE_BACKENDS, MODEL_CHOICES, MODELS, make_params, parse_param_value


@pytest.mark.parametrize("name", list(MODELS))
def test_every_reference_of_an_entry_resolves(name: str) -> None:
    kind = MODELS[name]
    assert kind.default_he in HE_BACKENDS
    assert callable(kind.fit) and callable(kind.predict) and callable(kind.baseline)
    assert hasattr(kind.part_type, "from_dict") and hasattr(kind.part_type, "to_dict")
    assert kind.param_defaults(), "a model kind declares its parameters"


def test_estimator_parameters_are_the_registrys() -> None:
    for est, name in (
        (vfl.VerticalLogisticRegression, "lr"),
        (vfl.SecureBoostClassifier, "sbt"),
        (vfl.SecureBoostRegressor, "sbt"),
    ):
        sig = inspect.signature(est)
        defaults = MODELS[name].param_defaults()
        for key, value in defaults.items():
            if key != "objective":
                assert sig.parameters[key].default == value, (est.__name__, key)
        assert sig.parameters["he"].default == MODELS[name].default_he
        assert est().get_params()["he"] == MODELS[name].default_he
    assert vfl.SecureBoostRegressor().objective == "reg:squarederror"
    with pytest.raises(TypeError, match="unknown parameters"):
        vfl.SecureBoostClassifier(n_trees=3)


def test_one_default_he_for_every_door(tmp_path: Path) -> None:
    job = tmp_path / "job.toml"
    job.write_text('[job]\nid = "j1"\nparties = ["a", "b"]\nactive = "b"\nmodel = "sbt"\n')
    spec = load_job(job).spec
    assert spec.he == MODELS["sbt"].default_he == vfl.SecureBoostClassifier().he
    assert spec.order == ("b", "a"), "the label holder goes first"
    assert JobSpec.create(job_id="x", parties=["p", "q"], active="q", model="lr").he == "ckks"
    help_text = CliRunner().invoke(cli, ["simulate", "--help"]).output
    for choice in MODEL_CHOICES:
        assert choice in help_text


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"n_trees": 3}, "unknown sbt parameters: n_trees"),
        ({"max_depth": "x"}, "wrong type"),
        ({"max_depth": 2.5}, "wrong type"),
        ({"learning_rate": float("nan")}, "wrong type"),
        ({"max_depth": 99}, "max_depth"),
    ],
)
def test_bad_parameters_are_config_errors(params: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        make_params("sbt", "ou", 0, params)


def test_whole_floats_become_ints() -> None:
    assert make_params("sbt", "ou", 0, {"n_estimators": 7.0}).n_estimators == 7


def test_param_values_parse_like_toml_scalars() -> None:
    assert [parse_param_value(v) for v in ("3", "0.5", "true", "none", "adam")] == [
        3,
        0.5,
        True,
        None,
        "adam",
    ]


def test_job_file_values_are_checked_when_read(tmp_path: Path) -> None:
    job = tmp_path / "job.toml"
    base = '[job]\nid = "j1"\nparties = ["a", "b"]\nactive = "a"\nmodel = "sbt"\n'
    for extra, match in (
        ("test_size = nan\n", "test_size"),
        ('test_size = "x"\n', "test_size"),
        ('[params]\nmax_depth = "x"\n', "wrong type"),
    ):
        job.write_text(base + extra)
        with pytest.raises(ConfigError, match=match):
            load_job(job)


def test_simulate_refuses_a_bad_param_before_any_party_starts(tmp_path: Path) -> None:
    res = CliRunner().invoke(
        cli, ["simulate", "--model", "sbt", "--param", "n_trees=3", "--out", str(tmp_path / "o")]
    )
    assert res.exit_code != 0
    assert "unknown sbt parameters: n_trees" in res.output
    assert not (tmp_path / "o").exists()


def test_bootstrap_auc_difference_is_paired_and_exact_at_the_point() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 600)
    strong, weak = y + rng.normal(0, 0.7, 600), np.round(y + rng.normal(0, 2.0, 600), 1)
    d, lo, hi = bootstrap_auc_difference(y, strong, weak)
    assert d == pytest.approx(roc_auc_score(y, strong) - roc_auc_score(y, weak), abs=1e-12)
    assert 0 < lo < d < hi
    same = versus_own_data(y, weak, weak + 1e-9 * rng.random(600), "insurer")
    assert not same["federated_is_better"] and "not better" in same["verdict"] and same["advice"]
    assert versus_own_data(y, strong, weak, "insurer")["federated_is_better"]


def test_objective_option_sets_the_models_objective(tmp_path: Path) -> None:
    res = CliRunner().invoke(
        cli, ["simulate", "--model", "sbt", "--objective", "reg:nonsense", "--out", str(tmp_path / "o")]
    )
    assert res.exit_code != 0 and "unknown objective 'reg:nonsense'" in res.output
    res = CliRunner().invoke(
        cli,
        [
            "simulate",
            "--model",
            "sbt",
            "--objective",
            "count:poisson",
            "--param",
            "objective=reg:gamma",
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert res.exit_code != 0 and "disagree" in res.output
