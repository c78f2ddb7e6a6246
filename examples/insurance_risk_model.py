"""An insurer's risk model, trained with its hospital and pharma partners.

The insurer holds claims outcomes and a few policy features; the hospital and the pharma company
hold clinical and prescription columns about many of the same people. This script:
1. puts the three parties' frames in one VerticalFrame (aligned by patient ID, label holder named);
2. splits it with scikit-learn's train_test_split, and trains a Pipeline: per-party preprocessing
   (the insurer's own feature engineering, on the insurer's columns only) then federated
   SecureBoost (here all three in one process, on the embedded default data; with
   --federation parties/insurer.toml the partners run `vfl serve`);
3. compares it with an insurer-only model on the same held-out people, and (--cv K) estimates
   the AUC by K-fold cross-validation with cross_val_score;
4. saves the model (each party's part, plus the estimator file).

    python examples/insurance_risk_model.py [--sample 8000] [--cv 3] [--out out/insurer-model]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import KFold, cross_val_score, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from vfl import Federation, PartyTransformer, SecureBoostClassifier, VerticalFrame
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
    x = claims.drop(columns="outcome", errors="ignore").copy()
    x["ins_mean"] = x.mean(axis=1)
    x["ins_spread"] = x.max(axis=1) - x.min(axis=1)
    return x.clip(-5, 5)


def main(
    sample: int | None = None,
    out: Path = Path("out/insurer-model"),
    federation: str | None = None,
    seed: int = 0,
    cv: int = 0,
) -> dict[str, float]:
    frames = load_partner_frames(sample)
    y = frames["insurer"].pop("outcome")  # the label stays with the insurer
    model = SecureBoostClassifier(
        n_estimators=5,
        max_depth=3,
        learning_rate=0.3,
        max_bin=32,
        he="ou",
        random_state=seed,
        label_holder="insurer",
    )
    result: dict[str, float] = {}
    if federation:  # real partners running `vfl serve`: this process holds only the insurer's rows
        x_ins = engineer(frames["insurer"])
        train_ids, test_ids = train_test_split(x_ins.index, test_size=0.25, random_state=seed)
        model.fit(x_ins.loc[train_ids], y.loc[train_ids], federation=Federation.from_config(federation))
        p_fed = model.predict_proba(x_ins.loc[test_ids])[:, 1]
        fitted = model
    else:
        data = VerticalFrame(frames, label_holder="insurer")
        train, test, y_train, _ = train_test_split(data, y, test_size=0.25, random_state=seed)
        pipe = Pipeline(
            [
                ("prep", PartyTransformer({"insurer": FunctionTransformer(engineer)})),  # the insurer's own
                ("model", model),
            ]
        )
        pipe.fit(train, y_train)
        p_fed = pipe.predict_proba(test)[:, 1]  # NaN for people a partner does not hold
        test_ids = test.ids
        fitted = pipe.named_steps["model"]
        if cv:
            folds = KFold(cv, shuffle=True, random_state=seed)
            scores = cross_val_score(pipe, data, y, cv=folds, scoring=_auc_on_shared_rows)
            result["cv_auc_mean"], result["cv_auc_std"] = float(scores.mean()), float(scores.std())
        x_ins = engineer(frames["insurer"])
        train_ids = x_ins.index.difference(test_ids)
    held = ~np.isnan(p_fed)  # people the partners also know
    y_test = y.loc[test_ids].to_numpy()[held]

    alone = xgb.XGBClassifier(n_estimators=5, max_depth=3, learning_rate=0.3, max_bin=32, tree_method="hist")
    alone.fit(x_ins.loc[train_ids], y.loc[train_ids])
    p_alone = alone.predict_proba(x_ins.loc[test_ids])[:, 1][held]

    result.update(
        {
            "federated_auc": float(roc_auc_score(y_test, p_fed[held])),
            "insurer_only_auc": float(roc_auc_score(y_test, p_alone)),
            "test_people": int(held.sum()),
        }
    )
    fitted.save(out)
    print(
        f"federated SecureBoost AUC {result['federated_auc']:.4f} "
        f"vs insurer-only {result['insurer_only_auc']:.4f} "
        f"on {result['test_people']:,} held-out people shared with the partners; model saved to {out}"
    )
    if "cv_auc_mean" in result:
        print(f"{cv}-fold cross-validated AUC {result['cv_auc_mean']:.4f} +- {result['cv_auc_std']:.4f}")
    print(
        "contribution (split gain) by party:",
        {p: round(sum(v.values()), 1) for p, v in fitted.importances_by_party_.items()},
    )
    return result


def _auc_on_shared_rows(estimator: Pipeline, X: VerticalFrame, y: pd.Series) -> float:
    """A scorer for cross_val_score: AUC on the held-out people every party holds."""
    p = estimator.predict_proba(X)[:, 1]
    held = ~np.isnan(p)
    return float(roc_auc_score(np.asarray(y)[held], p[held]))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sample", type=int, default=None, help="use only this many insurer rows")
    ap.add_argument("--out", type=Path, default=Path("out/insurer-model"))
    ap.add_argument("--federation", default=None, help="this party's config, e.g. parties/insurer.toml")
    ap.add_argument("--cv", type=int, default=3, help="folds of cross_val_score (0: none)")
    args = ap.parse_args()
    main(args.sample, args.out, args.federation, cv=args.cv)
