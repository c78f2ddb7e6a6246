"""What crosses the wire for every new objective (recorded, three parties, OU): the same message
types as binary, no float in any field, only bitmaps as arrays, and none of the label holder's
secrets in any payload: no label, no first-tree gradient or hessian, no offset. The spec
(protocols/specs/secureboost.md) says each objective reveals what binary reveals."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from tests.protocols.secureboost.conftest import fit_predict
from tests.protocols.secureboost.tables import PARTIES, frame, split, three_parties
from tests.protocols.secureboost.test_wire import TO_ACTIVE, TO_PASSIVE, _parse, _walk
from vfl.compute import get_backend, grad_hess, initial_margin
from vfl.runtime.models.sbt import SBTParams
from vfl.transport import Channel, RecordedMessage, RecordingChannel

CASES = [  # objective, table, with an offset column
    pytest.param("reg:squarederror", "diabetes", False, id="squarederror"),
    pytest.param("reg:gamma", "diabetes", False, id="gamma"),
    pytest.param("reg:tweedie", "randhie", False, id="tweedie"),
    pytest.param("count:poisson", "randhie", True, id="poisson-offset"),
    pytest.param("multi:softprob", "vehicle_scale", False, id="softprob"),
]


@pytest.mark.parametrize("objective,table,with_offset", CASES)
def test_only_what_the_spec_allows_crosses(objective: str, table: str, with_offset: bool) -> None:
    df, label = frame(table)
    df = df.iloc[:400].reset_index(drop=True)
    offset = None
    if with_offset:  # a synthetic exposure in (0.5, 2): the secret to look for
        offset = "log_exposure"
        df[offset] = np.log(np.random.default_rng(0).uniform(0.5, 2.0, len(df)))
    tables = three_parties(df, label, offset=offset)
    tr, te = split(len(df))
    log: list[RecordedMessage] = []
    lock = threading.Lock()

    def wrap(ch: Channel) -> Channel:
        return RecordingChannel(ch, log, lock)

    params = SBTParams(n_estimators=2, max_depth=2, objective=objective, he="ou", max_bin=16)
    models, pred = fit_predict(tables, PARTIES[0], params, tr, te, wrap=wrap)
    active = PARTIES[0]
    assert np.isfinite(pred).all() and log
    for rec in log:
        name = rec.type.rsplit(".", 1)[1]
        assert active in (rec.sender, rec.receiver), "passives never talk to each other"
        assert name in (TO_PASSIVE if rec.sender == active else TO_ACTIVE), rec
        for m in _walk(_parse(rec)):
            for field, _ in m.ListFields():
                assert field.type not in (field.TYPE_DOUBLE, field.TYPE_FLOAT), (rec.type, field.name)
            if m.DESCRIPTOR.full_name == "vfl.v1.NDArray":
                assert m.dtype == "|u1", f"{rec.type} carries a {m.dtype} array"
    holder = tables[active]
    y = holder.label
    assert y is not None
    off = None if holder.offset is None else holder.offset[tr]
    num_class = models[active].params["num_class"]
    _, start = initial_margin(objective, y[tr], None, off)
    margin = np.repeat(start[:, None], num_class, axis=1) if num_class else start
    g, h = grad_hess(get_backend("cpu").xp, objective, y[tr], margin)
    secrets = [*np.ravel(g)[:50], *np.ravel(h)[:50], *y[tr][:50]]
    if off is not None:
        secrets += list(off[:50])
    payloads = b"".join(r.payload for r in log)
    for v in secrets:
        if v not in (0.0, 1.0):  # 0/1 bytes occur in any bitmap
            assert np.float64(v).tobytes() not in payloads, v
            assert np.float32(v).tobytes() not in payloads, v
