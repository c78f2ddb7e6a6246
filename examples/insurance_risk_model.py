"""An insurer's risk model, trained with its hospital and pharma partners.

The insurer holds claims outcomes and a few policy features; the hospital and the pharma company
hold clinical and prescription columns about many of the same people. This script:
1. loads the insurer's claims and does its own feature engineering in pandas;
2. trains a federated SecureBoost model with the partners (here all three in one process: the
   embedded default data; with --federation parties/insurer.toml the partners run `vfl serve`);
3. compares it with an insurer-only model on the same held-out people;
4. saves the model (each party's part, plus the estimator file).

    python examples/insurance_risk_model.py [--sample 8000] [--out out/insurer-model]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.metrics import roc_auc_score

from vfl import Federation, SecureBoostClassifier
from vfl.data.datasets import default_dataset


def load_partner_frames(sample: int | None, seed: int = 7) -> dict[str, pd.DataFrame]:
    ds = default_dataset()
    frames = {
        n: pd.read_csv(p, dtype={ds.id_column: str}).set_index(ds.id_column) for n, p in ds.paths.items()
    }
    if sample:
        keep = pd.Index(frames["insurer"].index.to_series().sample(sample, random_state=seed))
        frames = {n: f.loc[f.index.intersection(keep)] for n, f in frames.items()}
    return frames


def engineer(claims: pd.DataFrame) -> pd.DataFrame:
    """The insurer's own preprocessing: stays local, runs before anything is shared."""
    x = claims.drop(columns="outcome").copy()
    x["ins_mean"] = x.mean(axis=1)
    x["ins_spread"] = x.max(axis=1) - x.min(axis=1)
    return x.clip(-5, 5)


def main(
    sample: int | None = None,
    out: Path = Path("out/insurer-model"),
    federation: str | None = None,
    seed: int = 0,
) -> dict[str, float]:
    frames = load_partner_frames(sample)
    claims = frames.pop("insurer")
    y = claims["outcome"]
    x_ins = engineer(claims)
    rng = np.random.default_rng(seed)
    test_ids = x_ins.index[rng.random(len(x_ins)) < 0.25]
    train_ids = x_ins.index.difference(test_ids)

    model = SecureBoostClassifier(
        n_estimators=5, max_depth=3, learning_rate=0.3, max_bin=32, he="ou", random_state=seed
    )
    if federation:  # real partners running `vfl serve`
        fed = Federation.from_config(federation)
        model.fit(x_ins.loc[train_ids], y.loc[train_ids], federation=fed)
        p_fed = model.predict_proba(x_ins.loc[test_ids])[:, 1]
    else:
        model.fit({"insurer": x_ins.loc[train_ids], **frames}, y.loc[train_ids])
        p_fed = model.predict_proba({"insurer": x_ins.loc[test_ids], **frames})[:, 1]
    held = ~np.isnan(p_fed)  # people the partners also know
    y_test = y.loc[test_ids].to_numpy()[held]

    alone = xgb.XGBClassifier(n_estimators=5, max_depth=3, learning_rate=0.3, max_bin=32, tree_method="hist")
    alone.fit(x_ins.loc[train_ids], y.loc[train_ids])
    p_alone = alone.predict_proba(x_ins.loc[test_ids])[:, 1][held]

    result = {
        "federated_auc": float(roc_auc_score(y_test, p_fed[held])),
        "insurer_only_auc": float(roc_auc_score(y_test, p_alone)),
        "test_people": int(held.sum()),
    }
    model.save(out)
    print(
        f"federated SecureBoost AUC {result['federated_auc']:.4f} "
        f"vs insurer-only {result['insurer_only_auc']:.4f} "
        f"on {result['test_people']:,} held-out people shared with the partners; model saved to {out}"
    )
    print(
        "contribution (split gain) by party:",
        {p: round(sum(v.values()), 1) for p, v in model.feature_importances_.items()},
    )
    return result


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sample", type=int, default=None, help="use only this many insurer rows")
    ap.add_argument("--out", type=Path, default=Path("out/insurer-model"))
    ap.add_argument("--federation", default=None, help="this party's config, e.g. parties/insurer.toml")
    args = ap.parse_args()
    main(args.sample, args.out, args.federation)
