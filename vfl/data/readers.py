"""Read one party's file (CSV or Parquet) into a validated :class:`PartyTable`.

Every refusal names the file, the column and the first offending rows (as file lines for CSV,
0-based row numbers for Parquet) and says how to fix it; nothing is written on failure.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from vfl.core.errors import DataError
from vfl.data.ids import IdRule, normalise_ids
from vfl.data.table import PartyTable

__all__ = ["NanPolicy", "read_frame", "read_party_table", "table_from_frame"]

NanPolicy = Literal["error", "mean", "median", "zero", "keep"]
_EXAMPLES = 5


def read_frame(path: str | Path, id_column: str) -> pd.DataFrame:
    """Load a CSV (optionally gzipped) or Parquet file with the ID column kept as text."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: no such file", "check the path given with --data NAME=PATH")
    suffixes = "".join(p.suffixes[-2:]).lower()
    try:
        if suffixes.endswith((".parquet", ".pq")):
            df = pd.read_parquet(p)
        elif suffixes.endswith((".csv", ".csv.gz", ".txt")):
            df = pd.read_csv(p, dtype={id_column: "string"}, skipinitialspace=True)
        else:
            raise DataError(f"{p}: unknown file type {suffixes or '(none)'}", "use .csv, .csv.gz or .parquet")
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"{p}: the file is empty", "export the data again with a header row") from exc
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, ValueError) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(f"{p}: cannot be read ({exc})", "check that it is a valid CSV/Parquet file") from exc
    if df.shape[0] == 0:
        raise DataError(f"{p}: the file has a header but no rows", "check the export")
    return df


def _where(path: str, rows: np.ndarray) -> str:
    """Human positions of rows: CSV line numbers (header is line 1) or Parquet row numbers."""
    shown = rows[:_EXAMPLES]
    if path.lower().endswith((".csv", ".csv.gz", ".txt")):
        return "lines " + ", ".join(str(int(r) + 2) for r in shown)
    return "rows " + ", ".join(str(int(r)) for r in shown)


def table_from_frame(
    df: pd.DataFrame,
    *,
    name: str,
    id_column: str = "id",
    label_column: str | None = None,
    feature_columns: Sequence[str] | None = None,
    nan_policy: NanPolicy = "error",
    id_rule: IdRule | None = None,
    source: str = "<frame>",
) -> PartyTable:
    """Validate a frame and build the party's table (IDs normalised, features float64)."""
    rule = id_rule or IdRule()
    if id_column not in df.columns:
        raise DataError(
            f"{source}: no ID column {id_column!r} (columns: {', '.join(map(str, df.columns[:12]))})",
            "name the ID column with --id-column, or rename it in the file",
        )
    if label_column is not None and label_column not in df.columns:
        raise DataError(
            f"{source}: no label column {label_column!r}",
            "check --label NAME:COLUMN for this party",
        )
    ids, bad = normalise_ids(df[id_column], rule)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise DataError(
            f"{source}: column {id_column!r} has {len(rows)} empty or malformed IDs ({_where(source, rows)})",
            "fill in or drop those rows; IDs must be non-empty text without control characters",
        )
    dup_mask = pd.Series(ids).duplicated(keep=False).to_numpy()
    if dup_mask.any():
        rows = np.flatnonzero(dup_mask)
        examples = list(dict.fromkeys(ids[rows]))[:_EXAMPLES]
        raise DataError(
            f"{source}: column {id_column!r} has {len(set(ids[rows]))} IDs that occur more than once "
            f"(e.g. {examples}; {_where(source, rows)}) after normalisation ({rule.describe()})",
            "keep one row per person before joining a federation",
        )
    exclude = {id_column} | ({label_column} if label_column else set())
    cols = (
        list(feature_columns) if feature_columns is not None else [c for c in df.columns if c not in exclude]
    )
    missing_cols = [c for c in cols if c not in df.columns]
    if missing_cols:
        raise DataError(f"{source}: feature columns {missing_cols} are missing", "check the party's schema")
    features = _numeric(df, cols, source)
    features = _handle_nan(features, cols, nan_policy, source)
    label = None
    if label_column is not None:
        label = _numeric(df, [label_column], source)[:, 0]
        nan_rows = np.flatnonzero(np.isnan(label))
        if len(nan_rows):
            raise DataError(
                f"{source}: label column {label_column!r} is empty in {len(nan_rows)} rows "
                f"({_where(source, nan_rows)})",
                "drop unlabelled rows before training",
            )
    return PartyTable(
        name=name,
        ids=ids,
        features=features,
        feature_names=[str(c) for c in cols],
        label=label,
        label_name=label_column,
        source=source,
        meta={"id_rule": rule.describe(), "nan_policy": nan_policy},
    )


def _numeric(df: pd.DataFrame, cols: list[str], source: str) -> np.ndarray:
    out = np.empty((len(df), len(cols)), dtype=np.float64)
    for j, c in enumerate(cols):
        raw = df[c]
        if pd.api.types.is_bool_dtype(raw) or pd.api.types.is_numeric_dtype(raw):
            out[:, j] = raw.astype("float64").to_numpy()
            continue
        conv = pd.to_numeric(raw, errors="coerce")
        bad = conv.isna().to_numpy() & raw.notna().to_numpy()
        if bad.any():
            rows = np.flatnonzero(bad)
            examples = [str(v) for v in raw.iloc[rows[:_EXAMPLES]]]
            raise DataError(
                f"{source}: column {c!r} is not numeric: {len(rows)} values such as {examples} "
                f"({_where(source, rows)})",
                "encode categories as numbers (e.g. one-hot) before training, or leave the column out",
            )
        out[:, j] = conv.astype("float64").to_numpy()
    return out


def _handle_nan(x: np.ndarray, cols: list[str], policy: NanPolicy, source: str) -> np.ndarray:
    nan = np.isnan(x)
    if not nan.any() or policy == "keep":
        return x
    if policy == "error":
        j = int(np.flatnonzero(nan.any(axis=0))[0])
        rows = np.flatnonzero(nan[:, j])
        cols_with = [cols[k] for k in np.flatnonzero(nan.any(axis=0))]
        raise DataError(
            f"{source}: {int(nan.sum())} missing values in columns {cols_with[:_EXAMPLES]}; "
            f"first in {cols[j]!r} at {_where(source, rows)}",
            "fill them in, or choose --nan mean|median|zero (imputation) or --nan keep (SecureBoost only)",
        )
    if policy == "zero":
        fill = np.zeros(x.shape[1])
    elif policy in ("mean", "median"):
        if nan.all(axis=0).any():
            empty = [cols[k] for k in np.flatnonzero(nan.all(axis=0))]
            raise DataError(f"{source}: columns {empty} have no values at all", "drop those columns")
        fill = np.nanmean(x, axis=0) if policy == "mean" else np.nanmedian(x, axis=0)
    else:
        raise DataError(f"unknown NaN policy {policy!r}", "use error, mean, median, zero or keep")
    return np.where(nan, fill[None, :], x)


def read_party_table(
    path: str | Path,
    *,
    name: str,
    id_column: str = "id",
    label_column: str | None = None,
    feature_columns: Sequence[str] | None = None,
    nan_policy: NanPolicy = "error",
    id_rule: IdRule | None = None,
) -> PartyTable:
    df = read_frame(path, id_column)
    return table_from_frame(
        df,
        name=name,
        id_column=id_column,
        label_column=label_column,
        feature_columns=feature_columns,
        nan_policy=nan_policy,
        id_rule=id_rule,
        source=str(path),
    )
