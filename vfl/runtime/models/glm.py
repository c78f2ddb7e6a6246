"""One party's side of the linear family (``--model glm``): LR's protocol and adapter with an
objective (squared error, Poisson, Gamma, Tweedie, or logistic) and the label holder's offset.

Its own module rather than more of lr.py: the part adds the offset column's name and the
baseline is scikit-learn's GLMs, while the training and scoring are LR's
(:func:`vfl.runtime.models.lr.fit_linear_part`), so ``lr`` parts and files stay as they were.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from vfl.core.errors import ConfigError
from vfl.core.progress import Progress
from vfl.crypto.he import HEScheme
from vfl.data.table import PartyTable
from vfl.executor.base import Executor
from vfl.protocols.common.resume import Checkpointer
from vfl.protocols.lr import Family, GLMParams
from vfl.runtime.models.lr import LRPartyModel, fit_linear_part, predict_linear_part
from vfl.transport.channel import Channel

__all__ = ["GLMParams", "GLMPartyModel", "fit_glm_party", "predict_glm_party", "sklearn_glm"]


@dataclass
class GLMPartyModel(LRPartyModel):
    """This party's part of a vertical GLM: LR's part plus, at the active, the name of the
    offset column it was trained with (scoring reads the same column; never its values)."""

    FORMAT: ClassVar[str] = "vfl.glm.part/v1"
    offset_name: str | None = None

    @property
    def family(self) -> Family:
        return Family(str(self.params["objective"]), float(self.params["tweedie_variance_power"]))


def fit_glm_party(
    channel: Channel,
    table: PartyTable,
    *,
    active: str,
    params: GLMParams,
    progress: Progress | None = None,
    checkpoint: Checkpointer | None = None,
    scheme: HEScheme | None = None,
    executor: Executor | None = None,
) -> GLMPartyModel:
    """Train this party's part (every party calls this on its aligned rows); the label holder's
    offset, if its table has one, is added to the linear predictor at the label holder only."""
    offset = table.offset if channel.me == active else None
    if offset is not None and params.family.logistic:
        raise ConfigError(
            "binary:logistic takes no offset (log exposure is for the log-link objectives)",
            "leave --offset out, or choose count:poisson, reg:gamma or reg:tweedie",
        )
    model = fit_linear_part(
        GLMPartyModel,
        channel,
        table,
        active=active,
        params=params,
        progress=progress,
        checkpoint=checkpoint,
        offset=offset,
        scheme=scheme,
        executor=executor,
    )
    model.offset_name = table.offset_name if offset is not None else None
    return model


def predict_glm_party(
    channel: Channel, model: GLMPartyModel, table: PartyTable, device: str = "cpu"
) -> np.ndarray | None:
    """Federated scoring: the family's mean (values for squared error, P(y=1) for logistic) at
    the active, with the table's offset where it has one (a model trained with an offset scores
    rows without one at offset 0: one unit of exposure); None at passives."""
    offset = table.offset if model.role == "active" else None
    return predict_linear_part(channel, model, table, device, family=model.family, offset=offset)


def sklearn_glm(
    params: dict[str, Any], x: np.ndarray, y: np.ndarray, offset: np.ndarray | None = None
) -> Callable[..., np.ndarray]:
    """scikit-learn's counterpart on standardised pooled columns with the same penalty:
    LinearRegression (l2 0, the default) or Ridge; PoissonRegressor, GammaRegressor,
    TweedieRegressor(link="log") with alpha = l2 (1.0 by default); LogisticRegression(C=1).

    An offset o (log exposure e) is fitted the classic way: the rate y / e with sample weights
    e^(2-p) (p the Tweedie power: 1 Poisson, 2 Gamma) has the same minimiser as the offset
    model, its mean loss is the offset model's times n / sum(weights), so alpha is scaled by
    that; for squared error the offset is subtracted from y. The predictor takes rows and their
    offset and gives means (values, P(y=1)) like the federated model's."""
    from sklearn.linear_model import (
        GammaRegressor,
        LinearRegression,
        LogisticRegression,
        PoissonRegressor,
        Ridge,
        TweedieRegressor,
    )
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    p = GLMParams(**{k: v for k, v in params.items() if k in GLMParams.__dataclass_fields__})
    fam, n = p.family, len(y)
    l2 = p.penalty(n)
    o = fam.objective
    if o == "binary:logistic":
        if offset is not None:
            raise ValueError("no scikit-learn baseline for logistic regression with an offset")
        clf = make_pipeline(
            StandardScaler(), LogisticRegression(C=1.0 / (l2 * n) if l2 else np.inf, max_iter=1000)
        )
        clf.fit(x, y)
        return _rows_or_none(lambda rows, off: clf.predict_proba(rows)[:, 1])
    off = np.zeros(n) if offset is None else np.asarray(offset, dtype=np.float64)
    if o == "reg:squarederror":
        reg = LinearRegression() if l2 == 0 else Ridge(alpha=l2 * n)
        est = make_pipeline(StandardScaler(), reg).fit(x, y - off)
        return _rows_or_none(lambda rows, off: est.predict(rows) + (0.0 if off is None else off))
    power = {"count:poisson": 1.0, "reg:gamma": 2.0}.get(o, fam.power)
    exposure = np.exp(off)
    sw = exposure ** (2.0 - power)
    alpha = l2 * n / float(np.sum(sw))
    glm: Any
    if o == "count:poisson":
        glm = PoissonRegressor(alpha=alpha, max_iter=1000, tol=1e-8)
    elif o == "reg:gamma":
        glm = GammaRegressor(alpha=alpha, max_iter=1000, tol=1e-8)
    else:
        glm = TweedieRegressor(power=power, link="log", alpha=alpha, max_iter=1000, tol=1e-8)
    est = make_pipeline(StandardScaler(), glm)
    est.fit(x, y / exposure, **{f"{est.steps[-1][0]}__sample_weight": sw})

    def predict(rows: np.ndarray, off: np.ndarray | None = None) -> np.ndarray:
        mean = np.asarray(est.predict(rows), dtype=np.float64)
        return mean if off is None else mean * np.exp(off)

    return _rows_or_none(predict)


def _rows_or_none(
    predict: Callable[[np.ndarray, np.ndarray | None], np.ndarray],
) -> Callable[..., np.ndarray]:
    """The predictor, also on no rows (a simulation without test rows; scikit-learn refuses)."""

    def wrapped(rows: np.ndarray, off: np.ndarray | None = None) -> np.ndarray:
        return np.zeros(0) if len(rows) == 0 else np.asarray(predict(rows, off), dtype=np.float64)

    return wrapped
