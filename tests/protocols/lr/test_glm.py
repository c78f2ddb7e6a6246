"""Issue 16, the linear half: ``--model glm`` trains squared error, Poisson, Gamma and Tweedie
(and logistic) with LR's encrypted-residual protocol and L-BFGS. On real tables split into
three parties it is within 1 % of scikit-learn's test RMSE (squared error: LinearRegression,
the default l2 = 0) or mean deviance (PoissonRegressor, GammaRegressor, TweedieRegressor with
their default alpha = 1.0, and a weak penalty) on standardised columns, the same rows and split;
with a log-exposure offset the Poisson frequency model is scikit-learn's fitted on the rates
with the exposure as sample weight; and what crosses the wire is what crosses for LR."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import (
    mean_gamma_deviance,
    mean_poisson_deviance,
    mean_squared_error,
    mean_tweedie_deviance,
)

from tests.protocols.lr.glm_tables import diabetes, fit_and_predict, insurance, randhie, split
from vfl.core.errors import ConfigError
from vfl.protocols.lr import Family, GLMParams
from vfl.runtime.models.glm import GLMPartyModel, sklearn_glm
from vfl.runtime.models.registry import make_params


def _metric(objective: str, power: float = 1.5):  # type: ignore[no-untyped-def]
    return {
        "reg:squarederror": lambda y, m: float(np.sqrt(mean_squared_error(y, m))),
        "count:poisson": mean_poisson_deviance,
        "reg:gamma": mean_gamma_deviance,
        "reg:tweedie": lambda y, m: mean_tweedie_deviance(y, m, power=power),
    }[objective]


# -- the families ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("objective", "y"),
    [
        ("binary:logistic", 1.0),
        ("reg:squarederror", 3.5),
        ("count:poisson", 2.0),
        ("reg:gamma", 2.0),
        ("reg:tweedie", 2.0),
        ("reg:tweedie", 0.0),
    ],
)
def test_residual_and_curvature_are_the_losss_derivatives(objective: str, y: float) -> None:
    fam = Family(objective, 1.3)
    z = np.linspace(-2.0, 2.0, 9)
    yy = np.full_like(z, y)
    h = 1e-5
    num1 = (fam.loss(z + h, yy) - fam.loss(z - h, yy)) / (2 * h)
    num2 = (fam.d1(z + h, yy) - fam.d1(z - h, yy)) / (2 * h)
    np.testing.assert_allclose(fam.d1(z, yy), num1, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(fam.d2(z, yy), num2, rtol=1e-6, atol=1e-8)
    assert np.all(fam.d2(z, yy) >= 0)  # convex: the line search's Newton steps are safe
    if objective in ("binary:logistic", "reg:squarederror", "count:poisson"):  # canonical links
        np.testing.assert_allclose(fam.d1(z, yy), fam.mean(z) - yy, atol=1e-12)


def test_parameters_default_to_sklearns_penalty_and_refuse_what_glm_cannot_do() -> None:
    assert GLMParams().objective == "binary:logistic" and GLMParams().penalty(200) == 1 / 200
    assert GLMParams(objective="reg:squarederror").penalty(200) == 0.0
    for o in ("count:poisson", "reg:gamma", "reg:tweedie"):
        assert GLMParams(objective=o).penalty(200) == 1.0
    assert GLMParams(objective="count:poisson", l2=0.01).penalty(200) == 0.01
    with pytest.raises(ConfigError, match="not supported"):
        GLMParams(objective="multi:softprob")
    with pytest.raises(ConfigError, match="outside"):
        GLMParams(objective="reg:tweedie", tweedie_variance_power=2.5)
    with pytest.raises(ConfigError, match="lbfgs"):
        GLMParams(objective="count:poisson", solver="adam")
    with pytest.raises(ConfigError, match="class_weight"):
        GLMParams(objective="reg:gamma", class_weight="balanced")
    p = make_params("glm", "ou", 3, {"objective": "reg:tweedie", "tweedie_variance_power": 1.2})
    assert isinstance(p, GLMParams) and p.family == Family("reg:tweedie", 1.2) and p.he == "ou"
    with pytest.raises(ConfigError, match="wrong type"):
        make_params("glm", "ou", 3, {"tweedie_variance_power": "high"})


# -- accuracy on real tables -----------------------------------------------------------------------
CASES = [
    # (table, objective, he, l2): l2 None is the family's default (scikit-learn's)
    ("diabetes", "reg:squarederror", "ckks", None),
    ("diabetes", "reg:gamma", "ckks", None),
    ("diabetes", "reg:gamma", "ou", 1e-3),
    ("randhie", "count:poisson", "ckks", None),
    ("randhie", "count:poisson", "ou", 1e-3),
    ("randhie", "reg:tweedie", "ckks", None),
]


@pytest.mark.parametrize(("table", "objective", "he", "l2"), CASES)
def test_within_one_percent_of_sklearn(table: str, objective: str, he: str, l2: float | None) -> None:
    x, y, names = diabetes() if table == "diabetes" else randhie()
    rows = split(len(y))
    tr, te = rows
    params = GLMParams(objective=objective, he=he, l2=l2)
    fit = fit_and_predict(x, y, names, params, rows)
    sk = sklearn_glm({"objective": objective, "l2": l2}, x[tr], y[tr])
    metric = _metric(objective)
    ours, theirs = metric(y[te], fit.test), metric(y[te], sk(x[te]))
    train_ours, train_theirs = metric(y[tr], fit.train), metric(y[tr], sk(x[tr]))
    stats = fit.models["hospital"].fit_stats
    print(
        f"{table} {objective} {he} l2={l2}: test {ours:.5f} vs sklearn {theirs:.5f}, "
        f"{stats['n_iter']} iterations"
    )
    assert ours <= 1.01 * theirs
    assert train_ours <= 1.01 * train_theirs  # the training objective is reached, not just luck
    assert stats["solver"] == "lbfgs" and 1 <= stats["n_iter"] < params.max_iter  # converged
    losses = stats["loss_history"]
    assert losses[-1] < losses[0]


def test_poisson_with_exposure_matches_sklearn_on_rates_weighted_by_exposure() -> None:
    """MASS Insurance (64 cells, claims and policy holders): log(holders) as the offset at the
    label holder; scikit-learn's PoissonRegressor fitted on claims / holders with sample_weight
    = holders is the same model (alpha scaled by n / sum(holders), so that both penalties are
    the same): the predicted claims agree within 0.01 %, and the offset matters."""
    x, claims, holders, names = insurance()
    every = (np.arange(len(claims)), np.arange(0))
    offset = np.log(holders)
    params = GLMParams(objective="count:poisson", he="ou", l2=1e-4, tol=1e-10)
    fit = fit_and_predict(x, claims, names, params, every, offset=offset)
    sk = sklearn_glm({"objective": "count:poisson", "l2": 1e-4}, x, claims, offset=offset)
    expected = sk(x, offset)
    np.testing.assert_allclose(fit.train, expected, rtol=1e-4)
    assert fit.models["hospital"].offset_name == "log_exposure"
    assert fit.models["insurer"].offset_name is None  # passives never hear of it
    with_exposure = mean_poisson_deviance(claims, fit.train)
    without = fit_and_predict(x, claims, names, params, every)
    assert with_exposure < 0.2 * mean_poisson_deviance(claims, without.train)
    # the frequency per policy holder: the model at offset 0 is sklearn's rate model
    rate_sk = sk(x)
    np.testing.assert_allclose(fit.train / holders, rate_sk, rtol=1e-4)


def test_a_part_round_trips_through_json_with_its_offset_name() -> None:
    x, claims, holders, names = insurance()
    params = GLMParams(objective="count:poisson", he="ou", max_iter=3)
    fit = fit_and_predict(x, claims, names, params, (np.arange(64), np.arange(0)), offset=np.log(holders))
    for m in fit.models.values():
        back = GLMPartyModel.from_dict(m.to_dict())
        assert back.offset_name == m.offset_name and back.family == Family("count:poisson")
        np.testing.assert_array_equal(back.weights, m.weights)
    from vfl.core.errors import DataError
    from vfl.runtime.models.lr import LRPartyModel

    with pytest.raises(DataError, match="format"):
        LRPartyModel.from_dict(fit.models["hospital"].to_dict())  # a GLM part is no LR part


# -- what crosses the wire -------------------------------------------------------------------------
#: the message types of an L-BFGS LR job (tests/protocols/lr/test_lbfgs.py), per direction
TO_ACTIVE = {"ScoreShare", "CipherBatch", "PartFingerprints", "LRResumeOffer"}
FROM_ACTIVE = {
    "LRSetup",
    "LRResumeStart",
    "CipherBatch",
    "MaskedGradient",
    "LRDirection",
    "LRStep",
    "PartFingerprints",
    "LRPredictSetup",
}
#: the set-up fields an LR job sends: a GLM job sends no more (nothing names the family)
LR_SETUP_FIELDS = {
    "n_rows",
    "seed",
    "epochs",
    "batch_size",
    "passives",
    "score_mode",
    "frac_bits",
    "grad_mask_bound",
    "solver",
    "memory",
    "l2",
    "he_context",
}


def _recorded_job(objective: str):  # type: ignore[no-untyped-def]
    """A three-party CKKS job of ``objective`` (Poisson: on MASS Insurance with the exposure
    offset; the others on diabetes), training and scoring, every message recorded."""
    import threading

    from tests.protocols.lr.glm_tables import with_offset
    from tests.protocols.lr.tables import three_parties
    from vfl.bench.harness import run_parties
    from vfl.runtime.models.glm import fit_glm_party, predict_glm_party
    from vfl.transport.recording import RecordedMessage, RecordingChannel

    offset = None
    if objective == "count:poisson":
        x, y, holders, names = insurance()
        offset = np.log(holders)
    else:
        x, y, names = diabetes()
    tables = three_parties(x, y, names)
    if offset is not None:
        tables = with_offset(tables, offset)
    by = {t.name: t for t in tables}
    log: list[RecordedMessage] = []
    lock = threading.Lock()
    params = GLMParams(objective=objective, he="ckks")
    models = run_parties(
        list(by),
        lambda ch: fit_glm_party(
            RecordingChannel(ch, log, lock), by[ch.me], active="hospital", params=params
        ),
    )
    run_parties(
        list(by), lambda ch: predict_glm_party(RecordingChannel(ch, log, lock), models[ch.me], by[ch.me])
    )
    return by, models, log, offset, params


@pytest.mark.parametrize("objective", ["reg:squarederror", "count:poisson", "reg:gamma", "reg:tweedie"])
def test_a_glm_job_sends_what_an_lr_job_sends(objective: str) -> None:
    """protocols/specs/glm.md: the same messages as LR's L-BFGS job, in the same directions; the
    set-up does not name the family; no label, offset, feature column or residual in the clear;
    one encrypted residual vector per passive per gradient round."""
    from collections import Counter

    from vfl.wire.v1 import lr_pb2

    by, models, log, offset, params = _recorded_job(objective)
    kinds = Counter((m.sender, m.receiver, m.type.split(".")[-1]) for m in log)
    assert {k[2] for k in kinds if k[1] == "hospital"} == TO_ACTIVE
    assert {k[2] for k in kinds if k[0] == "hospital"} == FROM_ACTIVE
    assert {k[2] for k in kinds if "hospital" not in k[:2]} == {"MaskKey"}
    setup = lr_pb2.LRSetup.FromString(next(m for m in log if m.type.endswith("LRSetup")).payload)
    assert {f.name for f, _ in setup.ListFields()} <= LR_SETUP_FIELDS
    assert setup.l2 == pytest.approx(params.penalty(by["hospital"].n_rows))
    rounds = models["hospital"].fit_stats["rounds"]
    for passive in ("insurer", "pharma"):
        residuals = [
            m
            for m in log
            if m.sender == "hospital" and m.receiver == passive and m.topic.endswith("/residual")
        ]
        assert len(residuals) == rounds and all(m.type.endswith("CipherBatch") for m in residuals)
    # nothing of the label holder's in the clear: label, offset, exposure, first residual
    hospital = by["hospital"]
    y = hospital.label
    assert y is not None
    fam = params.family
    off = np.zeros(len(y)) if offset is None else offset
    u0 = off + fam.start(y, offset)
    secrets = [y, fam.d1(u0, y) / len(y), fam.d1(u0, y)]
    if offset is not None:
        secrets += [offset, np.exp(offset)]
    needles = [np.ascontiguousarray(s, dtype=d).tobytes()[:64] for s in secrets for d in ("<f8", "<f4")]
    needles += [y.astype("<i8").tobytes()[:64]]
    rows = np.linspace(0, len(y) - 1, 4).astype(int)  # spread out: the insurance cells are a grid
    for t in by.values():
        std = models[t.name].standardiser.transform(t.features)
        cols = [a[rows, c] for a in (t.features, std) for c in range(a.shape[1])]
        needles += [np.ascontiguousarray(v).tobytes() for v in cols if len(np.unique(v)) > 1]
    assert not [n for n in needles if any(n in m.payload for m in log)]


# -- the estimators --------------------------------------------------------------------------------
def test_the_estimators_fit_three_frames_and_predict_like_sklearn() -> None:
    import pandas as pd
    from sklearn.base import clone

    import vfl

    x, y, names = diabetes()
    frame = pd.DataFrame(x, columns=names, index=[f"p{i}" for i in range(len(y))])
    parties = {"hospital": frame[names[:4]], "insurer": frame[names[4:7]], "pharma": frame[names[7:]]}
    target = pd.Series(y, index=frame.index)
    for cls, objective in [
        (vfl.VerticalLinearRegression, "reg:squarederror"),
        (vfl.VerticalPoissonRegressor, "count:poisson"),
        (vfl.VerticalGammaRegressor, "reg:gamma"),
        (vfl.VerticalTweedieRegressor, "reg:tweedie"),
    ]:
        est = clone(cls(he="ou"))
        assert est.get_params()["objective"] == objective
        pred = est.fit(parties, target).predict(parties)
        sk = sklearn_glm({"objective": objective}, x, y)(x)
        metric = _metric(objective)
        assert metric(y, pred) <= 1.01 * metric(y, sk)
        assert est.score(parties, target) > 0.2  # R² on the training rows
        assert set(est.importances_by_party_) == set(parties)


# -- the runtime: vfl simulate and vfl predict -----------------------------------------------------
def test_simulate_and_predict_a_poisson_glm_with_exposure(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`vfl simulate --model glm --objective count:poisson --offset insurer:log_holders` on three
    party files: the summary's centralised baseline is scikit-learn's PoissonRegressor on the
    same offset (the deviances agree within 1 %), and `vfl predict` scores the files again with
    the label holder's offset column, giving the training run's predictions."""
    import pandas as pd

    from vfl.runtime.modes.config import build_simulation_config
    from vfl.runtime.modes.predict import predict_local
    from vfl.runtime.modes.simulate import simulate

    x, claims, holders, names = insurance()
    df = pd.DataFrame(x, columns=names).assign(id=[f"c{i}" for i in range(len(claims))])
    df["Claims"], df["log_holders"] = claims, np.log(holders)
    paths = {}
    for party, cols in (
        ("insurer", ["Group", "Claims", "log_holders"]),
        ("hospital", ["Age"]),
        ("pharma", ["District"]),
    ):
        paths[party] = tmp_path / f"{party}.csv"
        df[["id", *cols]].to_csv(paths[party], index=False)
    data = tuple(f"{n}={p}" for n, p in paths.items())
    with pytest.raises(ConfigError, match="not used by --model lr"):
        build_simulation_config(data, "id", "insurer:Claims", "insurer:log_holders", model="lr", he="ckks")
    cfg = build_simulation_config(
        data,
        "id",
        "insurer:Claims",
        "insurer:log_holders",
        model="glm",
        he="ou",
        model_params={"objective": "count:poisson", "l2": 1e-3},
        out_dir=tmp_path / "out",
        test_size=0.0,
    )
    summary = simulate(cfg)
    ours, base = (
        summary["metrics"]["train_mean_poisson_deviance"],
        summary["baseline"]["train_mean_poisson_deviance"],
    )
    assert ours <= 1.01 * base and base < 2.0  # the exposure explains most of the claims
    res = predict_local(tmp_path / "out", paths, out_dir=tmp_path / "pred")
    scores = pd.read_csv(res["predictions"])
    pred = scores.set_index(scores.columns[0]).iloc[:, -1].reindex(df["id"]).to_numpy()
    assert mean_poisson_deviance(claims, pred) == pytest.approx(ours, rel=1e-6)


def test_glm_binary_logistic_is_lr() -> None:
    """`--model glm` with binary:logistic runs LR's code: the same weights as `--model lr` (up to
    the rounding of the one-time gradient masks, which differ per run) and the same penalty."""
    from tests.protocols.lr.tables import PARTIES, load_table, three_parties
    from vfl.bench.harness import run_parties
    from vfl.runtime.models.glm import fit_glm_party
    from vfl.runtime.models.lr import LRParams, fit_lr_party

    x, y, names = load_table("gbsg2")
    by = {t.name: t for t in three_parties(x, y, names)}
    lr = run_parties(
        list(by), lambda ch: fit_lr_party(ch, by[ch.me], active=PARTIES[0], params=LRParams(he="ou"))
    )
    glm = run_parties(
        list(by), lambda ch: fit_glm_party(ch, by[ch.me], active=PARTIES[0], params=GLMParams(he="ou"))
    )
    for party in PARTIES:
        np.testing.assert_allclose(glm[party].weights, lr[party].weights, rtol=0, atol=1e-5)
    assert glm[PARTIES[0]].fit_stats["n_iter"] == lr[PARTIES[0]].fit_stats["n_iter"]
    assert abs(glm[PARTIES[0]].intercept - lr[PARTIES[0]].intercept) < 1e-5  # type: ignore[operator]


def test_logistic_with_an_offset_is_refused_before_training() -> None:
    x, y, names = diabetes()
    with pytest.raises(ConfigError, match="takes no offset"):
        fit_and_predict(
            x,
            (y > 140).astype(np.float64),
            names,
            GLMParams(he="ou"),
            (np.arange(50), np.arange(0)),
            offset=np.zeros(len(y)),
        )


def test_the_poisson_estimator_takes_an_exposure() -> None:
    """VerticalPoissonRegressor.fit(..., exposure=holders) is the offset model of
    test_poisson_with_exposure_matches_sklearn_on_rates_weighted_by_exposure; predict with the
    exposure gives expected claims, without it the claim frequency."""
    import pandas as pd

    import vfl

    x, claims, holders, names = insurance()
    ids = [f"c{i}" for i in range(len(claims))]
    frame = pd.DataFrame(x, columns=names, index=ids)
    parties = {"hospital": frame[["Group"]], "insurer": frame[["Age"]], "pharma": frame[["District"]]}
    exposure = pd.Series(holders, index=ids)[::-1]  # by ID: the order does not matter
    est = vfl.VerticalPoissonRegressor(he="ou", l2=1e-4, tol=1e-10).fit(
        parties, pd.Series(claims, index=ids), exposure=exposure
    )
    sk = sklearn_glm({"objective": "count:poisson", "l2": 1e-4}, x, claims, offset=np.log(holders))
    np.testing.assert_allclose(est.predict(parties, exposure=holders), sk(x, np.log(holders)), rtol=1e-4)
    np.testing.assert_allclose(est.predict(parties), sk(x), rtol=1e-4)  # per policy holder
    assert est.parts_["hospital"].part.offset_name == "log_exposure"
    from vfl.core.errors import DataError

    with pytest.raises(DataError, match="one positive number per row"):
        est.predict(parties, exposure=np.zeros(len(claims)))
