"""scikit-learn style estimators over the federation.

Two ways to fit:
- ``fit({"insurer": df1, "hospital": df2, "pharma": df3}, y)``: a local simulation, every party's
  frame in this process (parties as threads, the same protocol code as a deployment);
- ``fit(X_local, y, federation=Federation.from_config("parties/insurer.toml"))``: this process
  is the label holder and its peers run ``vfl serve``.

IDs come from the ``id_column`` column when given and present, else from the frame's index, so a
scikit-learn Pipeline with ``set_output(transform="pandas")`` keeps them through preprocessing.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.validation import check_is_fitted

from vfl.api.federation import Federation
from vfl.api.frame import VerticalFrame, align_series
from vfl.api.params import declare_params
from vfl.compute import get_backend
from vfl.core.errors import ConfigError, DataError
from vfl.core.jobs import new_job_id
from vfl.data.readers import table_from_frame
from vfl.data.table import PartyTable
from vfl.executor.choose import ComputeConfig, using_executor
from vfl.runtime.job.run import PartyOutcome, run_party_job
from vfl.runtime.job.spec import JobSpec
from vfl.runtime.modes.local import run_in_memory
from vfl.runtime.modes.predict import predict_in_memory
from vfl.runtime.store.atomic import write_json_atomic
from vfl.runtime.store.modelfile import ModelFile, load_model_file, write_model_file

__all__ = ["SecureBoostClassifier", "SecureBoostRegressor", "VerticalLogisticRegression"]

_ID = "__vfl_id__"
_LABEL = "__vfl_label__"


def _frame_with_ids(df: Any, id_column: str | None, who: str) -> pd.DataFrame:
    if not isinstance(df, pd.DataFrame):
        raise DataError(
            f"{who}'s data is a {type(df).__name__}, not a pandas DataFrame, so its row IDs are lost",
            "pass DataFrames indexed by ID (in a Pipeline: set_output(transform='pandas'))",
        )
    if id_column and id_column in df.columns:
        return df.rename(columns={id_column: _ID}).reset_index(drop=True)
    return df.rename_axis(_ID).reset_index()


class _VerticalEstimator(BaseEstimator):
    """Shared fit / predict / save machinery; subclasses declare the model kind and params."""

    _model: ClassVar[str]
    federation_: Federation | None  # fitted: the peers of a federation-mode fit (None: simulated)
    _param_names: ClassVar[tuple[str, ...]]

    # -- parameters --------------------------------------------------------------------------------
    def _model_params(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self._param_names if getattr(self, k) is not None}

    def _spec(self, order: list[str], active: str, job_id: str | None = None, **kw: Any) -> JobSpec:
        return JobSpec.create(
            job_id=job_id or new_job_id("fit" if kw.get("task", "train") == "train" else "predict"),
            parties=order,
            active=active,
            model=self._model,
            he=self.he,
            test_size=0.0,
            seed=self.random_state,
            model_params=self._model_params(),
            device=self.device,  # party-local: not among the agreed model parameters
            **kw,
        )

    # -- tables ------------------------------------------------------------------------------------
    def _table(self, name: str, df: Any, y: Any = None, part: ModelFile | None = None) -> PartyTable:
        """``name``'s frame as a table; with its trained ``part`` (scoring), read exactly the
        columns and category map it was trained on (nothing dropped for being constant in a batch)."""
        frame = _frame_with_ids(df, self.id_column, name)
        label = None
        if y is not None:
            yv = frame.pop(y) if isinstance(y, str) and y in frame.columns else np.asarray(y)
            if len(yv) != len(frame):
                raise DataError(
                    f"y has {len(yv)} values for the {len(frame)} rows of the label holder {name}",
                    "pass y as a pandas Series indexed by ID, or in the label holder's row order "
                    "(label_holder= names the party)",
                )
            frame[_LABEL] = self._encode_y(np.asarray(yv))
            label = _LABEL
        trained = part.part if part is not None else None
        return table_from_frame(
            frame,
            name=name,
            id_column=_ID,
            label_column=label,
            nan_policy=self.nan_policy,
            source=f"{name} (DataFrame)",
            feature_columns=list(trained.feature_names) if trained is not None else None,
            categories=getattr(trained, "categories", None),  # the trained map (text columns)
        )

    def _encode_y(self, y: np.ndarray) -> np.ndarray:
        return y.astype(np.float64)

    def _parties(self, X: Any) -> tuple[dict[str, Any], str]:
        """{party: frame} and the label holder, from a VerticalFrame or a dict of frames."""
        if isinstance(X, VerticalFrame):
            if self.label_holder is not None and self.label_holder != X.label_holder:
                raise ConfigError(
                    f"label_holder={self.label_holder!r}, but the VerticalFrame's is {X.label_holder!r}",
                    "name one label holder",
                )
            return dict(X.parties), X.label_holder
        if not isinstance(X, dict) or len(X) < 2:
            raise ConfigError(
                "fit needs a VerticalFrame or {party: DataFrame} for two or more parties, or federation=...",
                "e.g. fit(VerticalFrame({'insurer': a, 'hospital': b}, label_holder='insurer'), y)",
            )
        active = self.label_holder or next(iter(X))
        if active not in X:
            raise ConfigError(
                f"label_holder={active!r} is not among the parties {list(X)}", "name one of them"
            )
        return X, active

    def _labels(self, y: Any, frame: Any, label_holder: str) -> Any:
        """A pandas Series of labels is aligned by its index to the label holder's IDs (never by
        position); anything else is taken as it is (positional, or a column name)."""
        if isinstance(y, pd.Series | pd.DataFrame) and isinstance(frame, pd.DataFrame):
            ids = (
                pd.Index(frame[self.id_column])
                if self.id_column and self.id_column in frame.columns
                else frame.index
            )
            return align_series(y, ids, label_holder)
        return y

    # -- fit ---------------------------------------------------------------------------------------
    def fit(
        self,
        X: Any,
        y: Any = None,
        *,
        federation: Federation | None = None,
        resume: bool = False,
        checkpoint_dir: str | Path | None = None,
    ) -> _VerticalEstimator:
        """Train across parties. ``X``: a :class:`VerticalFrame`, or {party: DataFrame} (a local
        simulation; the label holder is ``label_holder``, else the dict's first party), or this
        party's DataFrame with ``federation`` (this party holds the labels). ``y``: a pandas Series
        indexed by ID (aligned by ID), an array in the label holder's row order, or the name of
        the label holder's label column."""
        get_backend(self.device)  # a bad or unusable device stops here, before any party starts
        compute = ComputeConfig(self.executor, self.executor_address)  # and so does a bad executor
        with using_executor(compute):  # this process's parties: never sent, like the device
            return self._fit(X, y, federation, resume, checkpoint_dir)

    def _fit(
        self, X: Any, y: Any, federation: Federation | None, resume: bool, checkpoint_dir: str | Path | None
    ) -> _VerticalEstimator:
        job_opts = {"checkpoint_dir": Path(checkpoint_dir) if checkpoint_dir else None, "resume": resume}
        # a resumable fit keeps one job id per checkpoint folder, so a restart finds its checkpoints
        job_id = (
            "fit-" + hashlib.sha256(str(Path(checkpoint_dir).resolve()).encode()).hexdigest()[:12]
            if checkpoint_dir
            else None
        )
        if federation is not None:
            me = federation.me
            table = self._table(me, X, self._labels(y, X, me))
            spec = self._spec([me, *federation.peers], me, job_id)
            outcome = federation.run(spec, table, **job_opts)
            outcomes = {me: outcome}
            self.federation_ = federation
        else:
            X, active = self._parties(X)
            labels = self._labels(y, X[active], active)
            tables = {n: self._table(n, df, labels if n == active else None) for n, df in X.items()}
            spec = self._spec(list(X), active, job_id)
            outcomes = run_in_memory(
                list(spec.order),
                spec.job_id,
                lambda n, ch: run_party_job(spec, tables[n], ch, **job_opts),  # type: ignore[arg-type]
            )
            self.federation_ = None
            table = tables[active]
        self._set_fitted(spec, outcomes, table)
        return self

    def _set_fitted(self, spec: JobSpec, outcomes: dict[str, PartyOutcome], active_table: PartyTable) -> None:
        me = spec.order[0]
        self.job_id_ = spec.job_id
        self.parties_ = list(spec.order)
        self.active_ = me
        self.parts_ = {
            n: ModelFile(party=n, job_id=spec.job_id, kind=self._model, part=o.model, parts=dict(o.parts))
            for n, o in outcomes.items()
        }
        self._set_feature_names()
        self.intersection_size_ = outcomes[me].intersection
        self.fit_stats_ = {n: o.fit_stats for n, o in outcomes.items()}
        self.train_metrics_ = outcomes[me].metrics

    # -- predict -----------------------------------------------------------------------------------
    def _scores(self, X: Any, federation: Federation | None = None) -> np.ndarray:
        """Federated scoring of new rows (PSI on their IDs first). Rows that not every party
        holds get NaN."""
        check_is_fitted(self, "parts_")
        fed = federation or self.federation_
        if fed is not None:
            table = self._table(fed.me, X, part=self.parts_[fed.me])
            spec = self._spec(self.parties_, fed.me, task="predict", model_job_id=self.job_id_)
            out = fed.run(spec, table, model_file=self.parts_[fed.me])
            active_ids, ids, scores = table.ids, out.aligned_ids, out.scores
        else:
            if isinstance(X, VerticalFrame):
                X = dict(X.parties)
            if not isinstance(X, dict) or set(X) != set(self.parts_):
                raise ConfigError(
                    f"predict needs frames for the parties {sorted(self.parts_)}",
                    "pass a VerticalFrame or {party: DataFrame} for the same parties as fit",
                )
            tables = {n: self._table(n, df, part=self.parts_[n]) for n, df in X.items()}
            outs = predict_in_memory(self.parts_, tables, self.active_, self.device)
            active_ids, ids, scores = (
                tables[self.active_].ids,
                outs[self.active_].aligned_ids,
                outs[self.active_].scores,
            )
        assert scores is not None
        pos = pd.Series(np.arange(len(ids)), index=pd.Index(ids))
        idx = pos.reindex(pd.Index(active_ids)).to_numpy()
        scores = np.asarray(scores, dtype=np.float64)
        out_shape = (len(active_ids), *scores.shape[1:])
        result = np.full(out_shape, np.nan)
        ok = ~np.isnan(idx)
        result[ok] = scores[idx[ok].astype(np.int64)]
        return result

    def _unaligned(self, pred: np.ndarray, missing: np.ndarray) -> np.ndarray:
        """``predict``'s policy for rows not every party holds: ``"error"`` stops the call,
        ``"nan"`` gives them NaN (``predict_proba`` always does; ``score`` always skips them)."""
        if self.unaligned not in ("nan", "error"):
            raise ConfigError(f"unaligned={self.unaligned!r} is not a policy", "use 'error' or 'nan'")
        if not missing.any():
            return pred
        if self.unaligned == "error":
            raise DataError(
                f"{int(missing.sum())} rows are not held by every party (of {len(pred)}) "
                "and cannot be scored",
                "drop them, set unaligned='nan' (their predictions are NaN), or use predict_proba",
            )
        out = pred.astype(np.float64 if np.issubdtype(pred.dtype, np.number) else object)
        out[missing] = np.nan
        return out

    def score(self, X: Any, y: Any, sample_weight: Any = None, federation: Federation | None = None) -> float:
        """Accuracy (classifiers) or R² (regressors) on the rows every party holds; how many rows
        were skipped is kept in ``score_rows_skipped_``."""
        from sklearn.metrics import accuracy_score, r2_score

        pred = self._predict_all(X, federation)
        if isinstance(X, VerticalFrame):
            truth = X.align_labels(y)
        elif isinstance(X, dict):
            truth = np.asarray(self._labels(y, X[self.active_], self.active_))
        else:
            truth = np.asarray(self._labels(y, X, self.active_))
        ok = ~pd.isna(pred)
        self.score_rows_skipped_ = int((~ok).sum())
        w = None if sample_weight is None else np.asarray(sample_weight)[ok]
        if isinstance(self, ClassifierMixin):
            return float(accuracy_score(truth[ok], pred[ok].astype(truth.dtype), sample_weight=w))
        return float(r2_score(truth[ok], pred[ok], sample_weight=w))

    # -- files -------------------------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        """Each party's part to DIR/NAME/model.json (atomic), plus DIR/estimator.json."""
        check_is_fitted(self, "parts_")
        d = Path(directory)
        for n, m in self.parts_.items():
            write_model_file(d / n / "model.json", m.part, m.parts)
        write_json_atomic(
            d / "estimator.json",
            {
                "format": "vfl.estimator/v1",
                "class": type(self).__name__,
                "params": self.get_params(),
                "job_id": self.job_id_,
                "parties": self.parties_,
                "active": self.active_,
                "n_features_in": self.n_features_in_,
                **self._extra_state(),
            },
        )
        return d

    def _extra_state(self) -> dict[str, Any]:
        return {}

    @classmethod
    def load(cls, directory: str | Path, federation: Federation | None = None) -> _VerticalEstimator:
        """Load the parts found in DIR (all of them after a simulation, or only this party's);
        refuses corrupted, truncated or mismatched parts."""
        d = Path(directory)
        meta_path = d / "estimator.json"
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise DataError(
                f"{meta_path} is missing or unreadable ({exc})", "point at a folder written by save()"
            ) from exc
        if meta.get("class") != cls.__name__:
            raise DataError(
                f"{d} holds a {meta.get('class')}, not a {cls.__name__}", f"use {meta.get('class')}.load"
            )
        est = cls(**meta["params"])
        parts = {
            n: load_model_file(d / n / "model.json")
            for n in meta["parties"]
            if (d / n / "model.json").exists()
        }
        if not parts:
            raise DataError(f"no model parts under {d}", "point at a folder written by save()")
        for n, m in parts.items():
            if m.job_id != meta["job_id"] or any(o.parts.get(n) != m.sha256 for o in parts.values()):
                raise DataError(
                    f"{n}'s model part does not belong to this model (mismatched parts)",
                    "restore the parts saved together with estimator.json",
                )
        est.parts_ = parts
        est.job_id_, est.parties_, est.active_ = meta["job_id"], meta["parties"], meta["active"]
        est._set_feature_names()
        est.federation_ = federation
        est._load_extra_state(meta)
        return est

    def _load_extra_state(self, meta: dict[str, Any]) -> None:
        pass

    def _set_feature_names(self) -> None:
        """``feature_names_in_``: every held part's columns qualified by party (``hospital:kappa``),
        in job order; ``n_features_in_`` their count (the federation's total after a simulation)."""
        self.feature_names_in_ = np.asarray(
            [
                f"{n}:{f}"
                for n in self.parties_
                if n in self.parts_
                for f in self.parts_[n].part.feature_names
            ],
            dtype=object,
        )
        self.n_features_in_ = len(self.feature_names_in_)

    @property
    def feature_importances_(self) -> np.ndarray:
        """One importance per entry of ``feature_names_in_`` (normalised to sum to 1)."""
        by_party = self.importances_by_party_
        values = np.asarray(
            [by_party.get(n, {}).get(f, 0.0) for n, f in (q.split(":", 1) for q in self.feature_names_in_)],
            dtype=np.float64,
        )
        total = values.sum()
        return values / total if total > 0 else values

    @property
    def importances_by_party_(self) -> dict[str, dict[str, float]]:
        raise NotImplementedError

    def __sklearn_tags__(self) -> Any:
        """A vertical estimator takes its parties' frames (a VerticalFrame or a dict), never one
        plain array: scikit-learn's single-array checks do not apply."""
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.dict = True
        tags.input_tags.allow_nan = self.nan_policy != "error"
        tags.non_deterministic = False
        return tags


class _Classifier(ClassifierMixin, _VerticalEstimator):
    score = _VerticalEstimator.score  # on aligned rows only (ClassifierMixin's would come first)

    def _multiclass(self) -> bool:
        return str(getattr(self, "objective", "binary:logistic")).startswith("multi:")

    def _encode_y(self, y: np.ndarray) -> np.ndarray:
        """Labels to 0/1 (binary) or 0..K-1 (multi-class, K inferred here), ``classes_`` kept."""
        classes = np.unique(y)
        if self._multiclass():
            if len(classes) < 2:
                raise DataError(f"classification needs two or more classes, got {len(classes)}", "check y")
            self.classes_ = classes
            return np.searchsorted(classes, y).astype(np.float64)
        if len(classes) != 2:
            raise DataError(
                f"binary classification needs two classes, got {len(classes)}",
                "use SecureBoostClassifier with objective='multi:softmax' for more",
            )
        self.classes_ = classes
        return (y == classes[1]).astype(np.float64)

    def _extra_state(self) -> dict[str, Any]:
        return {"classes": self.classes_.tolist()}

    def _load_extra_state(self, meta: dict[str, Any]) -> None:
        self.classes_ = np.asarray(meta["classes"])

    def predict_proba(self, X: Any, federation: Federation | None = None) -> np.ndarray:
        """(n, K) class probabilities in ``classes_`` order; NaN rows for rows not every party holds."""
        p = self._scores(X, federation)
        return p if p.ndim == 2 else np.column_stack([1.0 - p, p])

    def predict(self, X: Any, federation: Federation | None = None) -> np.ndarray:
        """Classes; rows not every party holds follow ``unaligned`` (error, or NaN)."""
        p = self.predict_proba(X, federation)
        return self._unaligned(self._classes_of(p), np.isnan(p).any(axis=1))

    def _predict_all(self, X: Any, federation: Federation | None = None) -> np.ndarray:
        p = self.predict_proba(X, federation)
        out = self._classes_of(p).astype(object)
        out[np.isnan(p).any(axis=1)] = np.nan
        return out

    def _classes_of(self, p: np.ndarray) -> np.ndarray:
        if p.shape[1] == 2:  # P(y=1) >= 0.5, as before (argmax would send ties to class 0)
            return self.classes_[(np.nan_to_num(p[:, 1]) >= 0.5).astype(int)]
        return self.classes_[np.nan_to_num(p).argmax(axis=1)]


@declare_params("lr")
class VerticalLogisticRegression(_Classifier):
    """Logistic regression across parties with HE-protected gradients (CKKS by default).

    ``device``: where this process's parties compute in plaintext (``"cpu"``, ``"torch"``,
    ``"cuda"``, ``"cupy"`` or ``"auto"``: a GPU if usable); ``executor``: where their heavy
    per-row work runs (``"local"`` threads, or ``"ray"``: the Ray cluster at
    ``executor_address``, or a local Ray vfl starts when it is None). Neither is sent to peers."""

    @property
    def importances_by_party_(self) -> dict[str, dict[str, float]]:
        """Per party: |weight| of each standardised feature (coefficient mass)."""
        check_is_fitted(self, "parts_")
        out: dict[str, dict[str, float]] = {}
        for n, m in self.parts_.items():
            cats = m.part.categories
            mass = dict.fromkeys(m.part.feature_names, 0.0)
            for name, w in zip(m.part.weight_names, m.part.weights, strict=True):
                column = name.split("=", 1)[0] if "=" in name and name.split("=", 1)[0] in cats else name
                mass[column] += float(abs(w))  # a categorical column: the sum over its categories
            out[n] = mass
        return out


class _SecureBoost(_VerticalEstimator):
    """Shared parameters of the SecureBoost estimators (xgboost's names and meanings); ``device``
    as for :class:`VerticalLogisticRegression`. ``subsample`` < 1 grows each tree on a random
    share of the rows and encrypts only those rows' gradients: the largest cost per tree falls in
    proportion (the passives learn each tree's random sample, nothing else). ``dp_epsilon`` turns
    on label DP with gradients clipped to ``dp_clip``."""

    @property
    def importances_by_party_(self) -> dict[str, dict[str, float]]:
        """Per party: total split gain of each feature (parties whose part this process holds);
        the label holder also knows every other party's total under the party's name."""
        check_is_fitted(self, "parts_")
        active = self.parts_[self.active_].part
        out: dict[str, dict[str, float]] = {
            n: dict.fromkeys(m.part.feature_names, 0.0) for n, m in self.parts_.items()
        }
        for tree in active.trees:
            for node in tree.nodes:
                if node.owner is None or node.left < 0:
                    continue
                if node.owner == self.active_:
                    name = active.feature_names[node.feature]
                elif node.owner in self.parts_:
                    split = self.parts_[node.owner].part.splits[node.split_id]
                    name = self.parts_[node.owner].part.feature_names[split.feature]
                else:
                    name = "(all features)"
                    out.setdefault(node.owner, {}).setdefault(name, 0.0)
                out[node.owner][name] += float(node.gain)
        return out


@declare_params("sbt", objective="binary:logistic")
class SecureBoostClassifier(_Classifier, _SecureBoost):
    """SecureBoost gradient-boosted trees (OU by default: the fast backend): binary labels, or
    any number of classes with ``objective="multi:softmax"``/``"multi:softprob"`` (``num_class``
    inferred from y; ``predict_proba`` gives one column per class of ``classes_``)."""


@declare_params("sbt", objective="reg:squarederror")
class SecureBoostRegressor(RegressorMixin, _SecureBoost):
    """SecureBoost for continuous targets: ``objective`` "reg:squarederror" (default),
    "count:poisson", "reg:gamma" or "reg:tweedie" (``tweedie_variance_power``); ``predict``
    gives values, or means exp(margin) for the log-link objectives."""

    score = _VerticalEstimator.score  # R² on aligned rows only (RegressorMixin's would come first)

    def predict(self, X: Any, federation: Federation | None = None) -> np.ndarray:
        """Values (means for the log-link objectives); rows not every party holds follow
        ``unaligned`` (error, or NaN)."""
        p = self._scores(X, federation)
        return self._unaligned(p, np.isnan(p))

    def _predict_all(self, X: Any, federation: Federation | None = None) -> np.ndarray:
        return self._scores(X, federation)
