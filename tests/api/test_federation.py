"""The library's second way to fit: this process is the insurer, its peers run `vfl serve`."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from tests.runtime.test_serve import FAST, _federation
from vfl import Federation, SecureBoostClassifier
from vfl.runtime.job.jobfile import load_party_config
from vfl.runtime.modes.serve import serve


def test_fit_and_predict_with_serving_peers(three_party_breast: dict[str, Path], tmp_path: Path) -> None:
    job = _federation(three_party_breast, tmp_path, model="sbt")
    threads = [
        threading.Thread(
            target=serve,
            args=(load_party_config(job.parent / f"{n}.toml"),),
            kwargs={"max_jobs": 2, "idle_timeout": 60, "settings": FAST, "log": lambda m: None},
            daemon=True,
        )
        for n in ("hospital", "pharma")
    ]
    for t in threads:
        t.start()
    time.sleep(0.5)
    local = pd.read_csv(three_party_breast["insurer"]).set_index("pid")
    y = local.pop("y")
    fed = Federation.from_config(
        job.parent / "insurer.toml", connect_timeout=5.0, ping_every=0.3, dead_after=2.0
    )
    # the insurer's own preprocessing in a Pipeline; set_output keeps the IDs (the index)
    pipe = make_pipeline(
        StandardScaler().set_output(transform="pandas"), SecureBoostClassifier(n_estimators=3, random_state=0)
    )
    pipe.fit(local, y, secureboostclassifier__federation=fed)
    est = pipe[-1]
    assert set(est.parts_) == {"insurer"}  # this process holds only its own part
    assert est.intersection_size_ < len(local)  # PSI dropped patients the others lack
    p = pipe.predict_proba(local)[:, 1]  # federated inference: PSI on these IDs, then scoring
    held = ~pd.isna(p)
    assert held.sum() == est.intersection_size_
    assert roc_auc_score(y[held], p[held]) > 0.95
    for t in threads:
        t.join(30)
    assert (tmp_path / "out" / est.job_id_ / "hospital" / "model.json").is_file()
