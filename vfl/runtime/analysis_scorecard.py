"""The scorecard step of ``vfl analyze --scorecard``: every party WOE-transforms its own columns
(passives with the WOE map the label holder sends them), the parties train vertical LR on the
WOE columns with the registry's LR, and each party turns its own part of the model into points
per bin. A row's score is the base points plus its bins' points; its probability from the score
equals the WOE-LR model's (``ScorecardScale.probability``)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from vfl.compute.woe import FeatureBins, ScorecardScale, woe_points
from vfl.data.categories import CategoryMap
from vfl.data.table import PartyTable
from vfl.protocols.analysis.active import ActiveAnalysis
from vfl.protocols.analysis.passive import PassiveAnalysis
from vfl.protocols.analysis.scorecard import recv_woe_map, send_woe_maps, woe_transform, woe_values
from vfl.runtime.job.spec import JobSpec
from vfl.runtime.models.registry import MODELS, make_params
from vfl.transport.channel import Channel

__all__ = ["fit_scorecard_party", "scorecard_table"]

SCALE = ScorecardScale()


def _bins_and_maps(
    channel: Channel, spec: JobSpec, result: ActiveAnalysis | PassiveAnalysis
) -> tuple[list[FeatureBins], list[np.ndarray]]:
    if isinstance(result, ActiveAnalysis):
        assert spec.active is not None
        send_woe_maps(channel, result.features, list(spec.order[1:]))
        own = [f for f in result.features if f["party"] == channel.me]
        return (
            [FeatureBins(np.asarray(f["edges"], dtype=np.float64), int(f["missing_bin"])) for f in own],
            [woe_values(f) for f in own],
        )
    assert spec.active is not None
    return result.bins, recv_woe_map(channel, spec.active, result.bins)


def fit_scorecard_party(
    channel: Channel, spec: JobSpec, table: PartyTable, result: ActiveAnalysis | PassiveAnalysis
) -> dict[str, Any]:
    """Our side: WOE transform, federated LR on the WOE columns, our points per bin."""
    bins, maps = _bins_and_maps(channel, spec, result)
    woe_table = replace(table, features=woe_transform(table.features, bins, maps), categories=CategoryMap())
    assert spec.active is not None
    kind = MODELS["lr"]
    params = make_params("lr", spec.he, spec.seed, {})
    model = kind.fit(channel, woe_table, active=spec.active, params=params)
    proba = kind.predict(channel, model, woe_table)
    slope = np.asarray(model.weights) / np.asarray(model.scale)  # the LR standardises its inputs
    shift = -slope * np.asarray(model.mean)
    points = [
        woe_points(m, float(a), float(c), SCALE).tolist() for m, a, c in zip(maps, slope, shift, strict=True)
    ]
    out: dict[str, Any] = {"points": points, "woe": [m.tolist() for m in maps]}
    if channel.me == spec.active:
        assert model.intercept is not None and proba is not None
        out["base_points"] = SCALE.offset + float(SCALE.points(np.asarray(model.intercept)))
        out["proba"] = np.asarray(proba, dtype=np.float64)
    return out


def scorecard_table(
    spec: JobSpec, parts: dict[str, dict[str, Any]], names: dict[str, list[str]]
) -> dict[str, Any]:
    """The report's points table from every party's own points (a simulation holds them all)."""
    assert spec.active is not None
    rows = []
    for p in spec.order:
        for name, pts, woe in zip(names[p], parts[p]["points"], parts[p]["woe"], strict=True):
            rows += [
                {"party": p, "name": name, "bin": b, "woe": w, "points": pt}
                for b, (w, pt) in enumerate(zip(woe, pts, strict=True))
            ]
    return {
        "base_points": parts[spec.active]["base_points"],
        "offset": SCALE.offset,
        "factor": SCALE.factor,
        "pdo": SCALE.pdo,
        "base_score": SCALE.base_score,
        "base_odds": SCALE.base_odds,
        "model": "lr",
        "points": rows,
    }
