"""Read one party's file (CSV, optionally gzipped, or Parquet) into a validated :class:`PartyTable`.

All checks run when the file is read, before any party starts: every bad column is reported in
one :class:`DataError` that names the file, each column, its first offending rows (file lines for
CSV, 0-based row numbers for Parquet and frames) and what to do; nothing is written on failure.
Columns that carry no information (constant, or empty in every row) are dropped with a
:class:`~vfl.data.problems.DataWarning` when the caller lets the reader choose the columns.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from vfl.core.errors import ConfigError, DataError
from vfl.data.categories import CategoryMap
from vfl.data.columns import Column, read_column, read_numbers
from vfl.data.ids import IdRule, check_ids, normalise_ids
from vfl.data.labels import check_label
from vfl.data.problems import Problems, examples, warn_data, where
from vfl.data.table import PartyTable

__all__ = [
    "NanPolicy",
    "parquet_id_batches",
    "parquet_shards",
    "read_frame",
    "read_ids",
    "read_party_table",
    "require_parquet",
    "table_from_frame",
]

NanPolicy = Literal["error", "mean", "median", "zero", "keep"]
NAN_POLICIES = ("error", "mean", "median", "zero", "keep")
# pandas' own missing-value spellings, applied to every column but the ID column (an ID 'NA' or
# 'null' is an ID, not a missing value)
_NA_TEXT = [
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
]  # fmt: skip


def _kind(p: Path) -> str:
    name = p.name.lower()
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith((".csv", ".csv.gz", ".txt", ".txt.gz")):
        return "csv"
    raise DataError(
        f"{p}: unknown file type {''.join(p.suffixes[-2:]) or '(none)'}", "use .csv, .csv.gz or .parquet"
    )


def _no_id_column(source: str, id_column: str, columns: Sequence[object]) -> DataError:
    return DataError(
        f"{source}: no ID column {id_column!r} (columns: {', '.join(map(str, list(columns)[:12]))})",
        "name the ID column with --id-column, or rename it in the file",
    )


#: how a folder's shards are read: ``map_shards(fn, shards)`` gives ``[fn(s) for s in shards]`` in
#: order. The runtime passes its party's executor's map (threads, or the party's Ray workers);
#: the data layer itself knows no executor
ShardMap = Callable[[Callable[[Any], pd.DataFrame], list[Any]], list[pd.DataFrame]]


def read_frame(
    path: str | Path,
    id_column: str,
    *,
    ids_only: bool = False,
    text_columns: Sequence[str] = (),
    map_shards: ShardMap | None = None,
) -> pd.DataFrame:
    """Load a CSV (optionally gzipped) or Parquet file with the ID column (and ``text_columns``)
    kept as text. ``ids_only`` reads the ID column alone (PSI needs nothing else). A folder of
    Parquet shards is read shard by shard through ``map_shards`` (default: one after another)."""
    p = Path(path)
    if p.is_dir():
        return _read_folder(p, id_column, ids_only, map_shards)
    if not p.is_file():
        raise DataError(f"{p}: no such file", "check the path given with --data NAME=PATH")
    kind = _kind(p)
    if kind == "parquet":
        require_parquet(str(p))
    try:
        df = (
            _read_parquet(p, id_column, ids_only)
            if kind == "parquet"
            else _read_csv(p, id_column, ids_only, text_columns)
        )
    except DataError:
        raise
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"{p}: the file is empty", "export the data again with a header row") from exc
    except (EOFError, zlib.error) as exc:
        raise DataError(
            f"{p}: the compressed file ends early or is corrupt ({exc})",
            "the copy is probably truncated: copy or export the file again",
        ) from exc
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, ValueError) as exc:
        raise DataError(
            f"{p}: cannot be read ({exc})", "check that it is a valid UTF-8 CSV or Parquet file"
        ) from exc
    if df.shape[0] == 0:
        raise DataError(f"{p}: the file has a header but no rows", "check the export")
    return df


def _read_csv(p: Path, id_column: str, ids_only: bool, text_columns: Sequence[str]) -> pd.DataFrame:
    opts = {"encoding": "utf-8-sig", "skipinitialspace": True}  # utf-8-sig: Excel's byte-order mark
    header = pd.read_csv(p, nrows=0, **opts).columns
    if ids_only and id_column not in header:
        raise _no_id_column(str(p), id_column, header)
    text = {c: "string" for c in (id_column, *text_columns) if c in header}
    return pd.read_csv(
        p,
        dtype=text,
        usecols=[id_column] if ids_only else None,
        keep_default_na=False,
        na_values={c: _NA_TEXT for c in header if c != id_column},
        **opts,
    )


def require_parquet(what: str) -> None:
    """pyarrow (170 MB) is the optional extra ``vfl[parquet]``: say so, naming the file, rather
    than let pandas fail with its own engine list."""
    try:
        import pyarrow.parquet  # noqa: F401
    except ImportError as exc:
        raise ConfigError(
            f"{what}: Parquet needs pyarrow, which is not installed",
            "pip install 'vfl[parquet]', or use a CSV file (.csv or .csv.gz)",
        ) from exc


def parquet_shards(folder: Path) -> list[Path]:
    """Every ``*.parquet`` file of a folder in name order: the shards of one party's table."""
    files = sorted(f for f in folder.iterdir() if f.is_file() and f.name.lower().endswith(".parquet"))
    if not files:
        raise DataError(
            f"{folder}: no .parquet files in the folder",
            "point --data at a file or a folder of .parquet shards",
        )
    require_parquet(str(folder))
    return files


def _read_shard(shard: tuple[str, str, bool]) -> pd.DataFrame:
    """One Parquet shard of a folder (a plain function of plain values: it runs on a thread or
    on a worker of the party's own Ray cluster, which reads the same path)."""
    path, id_column, ids_only = shard
    return read_frame(path, id_column, ids_only=ids_only)


def _read_folder(
    folder: Path, id_column: str, ids_only: bool, map_shards: ShardMap | None = None
) -> pd.DataFrame:
    """The shards as one table (rows numbered 0-based across the shards in name order), each shard
    with the first one's columns; an empty or unreadable shard is named. The columns are checked
    from the files' footers first, so a mismatch is named before any shard is read."""
    import pyarrow.parquet as pq

    files = parquet_shards(folder)
    names = pq.read_schema(files[0]).names
    frames = []
    for f in files:
        if pq.read_schema(f).names != names:
            raise DataError(
                f"{f}: columns {pq.read_schema(f).names[:12]} differ from {files[0].name}'s {names[:12]}",
                "every shard of a party's table needs the same columns in the same order",
            )
    shards = [(str(f), id_column, ids_only) for f in files]
    frames = map_shards(_read_shard, shards) if map_shards else [_read_shard(s) for s in shards]
    return pd.concat(frames, ignore_index=True)


def parquet_id_batches(
    path: str | Path, id_column: str = "id", rule: IdRule | None = None, batch: int = 65_536
) -> Callable[[], Iterator[np.ndarray]]:
    """A party's IDs from a Parquet file or folder of shards, read batch by batch (only the ID
    column, one shard at a time) and normalised by ``rule``: the source of streaming PSI
    (:func:`vfl.protocols.psi.stream.stream_pair_psi`), which never holds them all."""
    p = Path(path)
    files = parquet_shards(p) if p.is_dir() else [p]
    require_parquet(str(p))
    import pyarrow.parquet as pq

    id_rule = rule or IdRule()

    def read() -> Iterator[np.ndarray]:
        row = 0
        for f in files:
            pf = pq.ParquetFile(f)
            if id_column not in pf.schema_arrow.names:
                raise _no_id_column(str(f), id_column, pf.schema_arrow.names)
            for rb in pf.iter_batches(batch_size=batch, columns=[id_column]):
                raw = rb.column(0).to_pandas().astype("string")
                ids, bad = normalise_ids(raw, id_rule)
                if bad.any():
                    first = np.flatnonzero(bad)[:5]
                    raise DataError(
                        f"{f}: column {id_column!r} has {int(bad.sum())} malformed IDs in one batch "
                        f"(rows {(row + first).tolist()} of the table)",
                        "clean the ID column (missing, empty, too long or invisible characters)",
                    )
                row += len(ids)
                yield ids

    return read


def _read_parquet(p: Path, id_column: str, ids_only: bool) -> pd.DataFrame:
    if not ids_only:
        return pd.read_parquet(p)
    import pyarrow.parquet as pq

    names = pq.read_schema(p).names
    if id_column not in names:
        raise _no_id_column(str(p), id_column, names)
    return pd.read_parquet(p, columns=[id_column])


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
    categories: CategoryMap | None = None,
    ids_only: bool = False,
    offset_column: str | None = None,
) -> PartyTable:
    """Validate a frame and build the party's table (IDs normalised, features float64).

    ``feature_columns`` None: every other column, minus those that carry no information (dropped
    with a warning), text/category/bool columns encoded by a map fitted on these rows. Given (a
    trained model's columns): exactly those, in that order, none dropped; ``categories`` (the
    trained map) then encodes the category columns, unseen categories becoming missing; without
    it, a text column is refused (codes fitted on these rows would not match the model's).
    ``ids_only``: only the ID column is checked and kept (a PSI-only job). ``offset_column``
    (label holder): a numeric column of per-row offsets on the margin scale (log(exposure) for
    Poisson/Gamma/Tweedie), neither a feature nor ever sent; every row needs one.
    """
    if nan_policy not in NAN_POLICIES:
        raise DataError(f"unknown NaN policy {nan_policy!r}", f"use one of {', '.join(NAN_POLICIES)}")
    rule = id_rule or IdRule()
    if id_column not in df.columns:
        raise _no_id_column(source, id_column, df.columns)
    problems = Problems(source)
    ids = _ids(df[id_column], id_column, rule, problems)
    if ids_only:
        problems.raise_if_any()
        return PartyTable(name, ids, np.empty((len(ids), 0)), [], source=source, meta=_meta(rule, nan_policy))
    if label_column is not None and label_column not in df.columns:
        problems.add(
            label_column, f"no label column {label_column!r}", "check --label NAME:COLUMN for this party"
        )
    discover = feature_columns is None
    if not discover and categories is None:
        categories = CategoryMap()  # a model's columns without its map: text cannot be encoded the same way
    if offset_column is not None and offset_column not in df.columns:
        problems.add(
            offset_column, f"no offset column {offset_column!r}", "check --offset NAME:COLUMN for this party"
        )
    exclude = {id_column, label_column, offset_column}
    cols = [c for c in df.columns if c not in exclude] if feature_columns is None else list(feature_columns)
    absent = [c for c in cols if c not in df.columns]
    if absent:
        problems.add(absent, f"feature columns {absent} are missing", "check the party's schema")
    forced = set(categories.columns) if categories is not None else set()
    read = [
        read_column(df[c], str(c), problems, categorical=str(c) in forced) for c in cols if c in df.columns
    ]
    columns = [c for c in read if c is not None]
    empty = [c.name for c in columns if c.missing.all()] if discover else []
    columns = [c for c in columns if c.name not in empty]
    x, fitted = _matrix(columns, len(df))
    names = [c.name for c in columns]
    x = _handle_nan(x, names, fitted, nan_policy, problems)
    constant = _constant(x, names) if discover else []
    if constant:
        keep = [j for j, c in enumerate(names) if c not in constant]
        x, names = x[:, keep], [names[j] for j in keep]
        fitted = CategoryMap({c: v for c, v in fitted.columns.items() if c in names})
    if discover and not names and not problems:
        problems.add(
            None,
            "no usable feature columns"
            + (f" (dropped: {', '.join(map(repr, empty + constant))})" if empty or constant else ""),
            "every party needs at least one feature column that varies between rows",
        )
    offset = None
    if offset_column is not None and offset_column in df.columns:
        offset = _offset(df[offset_column], offset_column, problems)
    has_label = label_column is not None and label_column in df.columns
    label = _label(df[label_column], label_column, problems) if has_label else None  # type: ignore[arg-type]
    problems.raise_if_any()
    _warn_dropped(source, constant, empty)
    meta = _meta(rule, nan_policy)
    meta["dropped_columns"] = {"constant": constant, "all_missing": empty}
    table = PartyTable(
        name,
        ids,
        x,
        names,
        label,
        label_column,
        source,
        meta,
        fitted,
        offset,
        offset_column if offset is not None else None,
    )
    return table.apply_categories(categories) if categories is not None else table


def _meta(rule: IdRule, nan_policy: str) -> dict[str, object]:
    return {"id_rule": rule.describe(), "nan_policy": nan_policy}


def _ids(raw: pd.Series, column: str, rule: IdRule, problems: Problems) -> np.ndarray:
    """Normalised IDs; malformed and duplicate ones join ``problems``."""
    c = check_ids(raw, rule)
    source = problems.source
    if c.bad.any():
        rows = np.flatnonzero(c.bad)
        kinds = [
            f"{int(c.empty.sum())} empty" if c.empty.any() else "",
            f"{int(c.too_long.sum())} too long" if c.too_long.any() else "",
            f"{int(c.invisible.sum())} with control or invisible characters ({', '.join(c.chars)})"
            if c.invisible.any()
            else "",
        ]
        problems.add(
            column,
            f"column {column!r} has {len(rows)} empty or malformed IDs ({where(source, rows)}): "
            + ", ".join(k for k in kinds if k),
            "fill in or drop those rows; IDs must be non-empty text without control, format or invisible "
            "characters (no-break spaces, line separators, zero-width characters): retype them as plain text",
        )
    dup = pd.Series(c.ids).duplicated(keep=False).to_numpy() & ~c.bad
    if dup.any():
        rows = np.flatnonzero(dup)
        problems.add(
            column,
            f"column {column!r} has {len(set(c.ids[rows]))} IDs that occur more than once "
            f"(e.g. {examples(list(c.ids[rows]))}; {where(source, rows)}) "
            f"after normalisation ({rule.describe()})",
            "keep one row per person before joining a federation",
        )
    return c.ids


def _matrix(columns: list[Column], n: int) -> tuple[np.ndarray, CategoryMap]:
    """Stack the columns; category columns become codes under a map fitted on these rows."""
    fitted = CategoryMap.fit({c.name: c.text for c in columns if c.text is not None})
    x = np.empty((n, len(columns)), dtype=np.float64)
    for j, c in enumerate(columns):
        x[:, j] = c.values if c.values is not None else fitted.encode(c.name, c.text)[0]  # type: ignore[arg-type]
    return x, fitted


def _handle_nan(
    x: np.ndarray, names: list[str], categories: CategoryMap, policy: str, problems: Problems
) -> np.ndarray:
    """Apply the NaN policy to numeric columns. A category column's missing cells stay missing (its
    own bin, or zeros one-hot) unless the policy is 'error'."""
    nan = np.isnan(x)
    if not nan.any() or policy == "keep":
        return x
    source = problems.source
    if policy == "error":
        bad = [j for j in range(x.shape[1]) if nan[:, j].any()]
        detail = "; ".join(f"{names[j]!r}: {where(source, np.flatnonzero(nan[:, j]))}" for j in bad)
        problems.add(
            [names[j] for j in bad],
            f"{int(nan.sum())} missing values in {len(bad)} columns ({detail})",
            "fill them in, or choose --nan mean|median|zero (imputation) or --nan keep (SecureBoost only)",
        )
        return x
    numeric = np.array([c not in categories for c in names], dtype=bool)
    if policy == "zero":
        fill = np.zeros(x.shape[1])
    else:
        empty = [names[j] for j in np.flatnonzero(nan.all(axis=0) & numeric)]
        if empty:
            problems.add(empty, f"columns {empty} have no values at all", "drop those columns")
            return x
        with np.errstate(all="ignore"):
            fill = np.nanmean(x, axis=0) if policy == "mean" else np.nanmedian(x, axis=0)
    return np.where(nan & numeric[None, :], fill[None, :], x)


def _constant(x: np.ndarray, names: list[str]) -> list[str]:
    """Columns with one value in every row (and no missing cells, whose pattern may inform)."""
    if x.shape[0] == 0:
        return []
    same = ~np.isnan(x).any(axis=0) & (x == x[:1]).all(axis=0)
    return [names[j] for j in np.flatnonzero(same)]


def _label(raw: pd.Series, column: str, problems: Problems) -> np.ndarray | None:
    y = read_numbers(raw, column, "label column", problems)
    if y is None:
        return None
    missing = np.flatnonzero(np.isnan(y))
    if len(missing):
        problems.add(
            column,
            f"label column {column!r} is empty in {len(missing)} rows ({where(problems.source, missing)})",
            "drop unlabelled rows before training",
        )
    else:
        check_label(y, source=problems.source, column=column, problems=problems)
    return y


def _offset(raw: pd.Series, column: str, problems: Problems) -> np.ndarray | None:
    """The offset column: numbers in every row (a missing offset has no neutral value)."""
    x = read_numbers(raw, column, "offset column", problems)
    if x is None:
        return None
    missing = np.flatnonzero(np.isnan(x))
    if len(missing):
        problems.add(
            column,
            f"offset column {column!r} is empty in {len(missing)} rows ({where(problems.source, missing)})",
            "fill in every row's offset (the log of its exposure), or drop those rows",
        )
        return None
    return x


def _warn_dropped(source: str, constant: list[str], empty: list[str]) -> None:
    if constant:
        warn_data(f"{source}: dropped constant columns {constant} (one value in every row: nothing to learn)")
    if empty:
        warn_data(f"{source}: dropped columns {empty} (empty in every row)")


def read_party_table(
    path: str | Path,
    *,
    name: str,
    id_column: str = "id",
    label_column: str | None = None,
    feature_columns: Sequence[str] | None = None,
    nan_policy: NanPolicy = "error",
    id_rule: IdRule | None = None,
    categories: CategoryMap | None = None,
    ids_only: bool = False,
    offset_column: str | None = None,
    map_shards: ShardMap | None = None,
) -> PartyTable:
    """Read and validate one party's file; see :func:`table_from_frame` for the options and
    :func:`read_frame` for ``map_shards``."""
    text = list(categories.columns) if categories is not None else []
    df = read_frame(path, id_column, ids_only=ids_only, text_columns=text, map_shards=map_shards)
    return table_from_frame(
        df,
        name=name,
        id_column=id_column,
        label_column=label_column,
        feature_columns=feature_columns,
        nan_policy=nan_policy,
        id_rule=id_rule,
        source=str(path),
        categories=categories,
        ids_only=ids_only,
        offset_column=offset_column,
    )


def read_ids(
    path: str | Path, *, name: str, id_column: str = "id", id_rule: IdRule | None = None
) -> PartyTable:
    """Only the ID column, checked (``vfl psi``): other columns are never parsed, so text or broken
    feature columns cannot stop an alignment."""
    return read_party_table(path, name=name, id_column=id_column, id_rule=id_rule, ids_only=True)
