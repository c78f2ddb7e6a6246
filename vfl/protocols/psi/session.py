"""One party's whole PSI run: check the IDs, phase 1 round the ring, phase 2 by role, and map
the intersection back to our rows in the agreed order."""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from vfl.core.errors import ConfigError, DataError, ProtocolError
from vfl.crypto.psi_group import points_as_keys
from vfl.executor.base import Executor
from vfl.executor.local import LocalExecutor
from vfl.protocols.psi.compare import as_comparer, as_dealer, as_holder, receive_final
from vfl.protocols.psi.pair import pair_intersection
from vfl.protocols.psi.ring import RingKeys, encrypt_own_list, finish_own_list, relay_list
from vfl.protocols.psi.stages import Roles
from vfl.protocols.psi.stream import id_batches, stream_pair_psi
from vfl.transport.channel import Channel

__all__ = ["STREAM_THRESHOLD", "PsiResult", "run_psi"]

# IDs above which two-party PSI keeps its lists on disk (bounded memory; the same messages and
# result): below it the in-memory path is faster, above it the lists alone pass ~0.5 GB per party
STREAM_THRESHOLD = 5_000_000


@dataclass(frozen=True)
class PsiResult:
    """``rows[i]`` is our row index of the i-th shared ID in the order every party agrees on
    (the shared IDs sorted as text)."""

    rows: np.ndarray
    size: int
    own_size: int
    seconds: float
    scalar_mults: int
    hashes: int
    stages: dict[str, float] = field(default_factory=dict)  # seconds: check, exchange, order


def _check_ids(ids: Sequence[str]) -> np.ndarray:
    """Every ID non-empty text, each once."""
    arr = np.asarray(ids, dtype=object)
    if arr.ndim != 1:
        raise DataError("PSI needs a flat list of IDs")
    col = pd.Series(arr, dtype=object, copy=False)
    if len(arr) and pd.api.types.infer_dtype(arr, skipna=False) != "string":
        bad = np.flatnonzero(~col.map(lambda x: isinstance(x, str)).to_numpy(bool))
        raise DataError(
            f"{len(bad)} IDs are not text (first rows: {bad[:5].tolist()})", "clean the ID column"
        )
    empty = np.flatnonzero(arr == "")
    if len(empty):
        raise DataError(
            f"{len(empty)} IDs are empty (first rows: {empty[:5].tolist()})", "clean the ID column"
        )
    if _may_repeat(arr) and len(dup := col[col.duplicated()].unique()):
        raise DataError(
            f"{len(dup)} IDs occur more than once (e.g. {list(dup[:5])})",
            "PSI needs each ID once: de-duplicate the file first",
        )
    return arr


def _may_repeat(arr: np.ndarray) -> bool:
    """Whether two IDs may be equal: their 64-bit string hashes sorted, neighbours compared. One
    sequential pass and a sort of 8-byte integers, where a set of the strings misses the cache at a
    million IDs (0.08 s against 0.13 s there, growing as n^1.0 against n^1.4 from 100k); an equal
    pair of hashes (a repeat, or a 2^-64 collision) sends the IDs to pandas' exact check."""
    h = np.fromiter(map(hash, arr), dtype=np.int64, count=len(arr))
    h.sort()
    return bool((h[1:] == h[:-1]).any())


def run_psi(
    channel: Channel,
    ids: Sequence[str],
    order: Sequence[str],
    *,
    executor: Executor | None = None,
    threads: int | None = None,
    stream: bool | None = None,
) -> PsiResult:
    """Run our side of N-party PSI. ``order`` is the job's party order (first = comparer).

    The group work runs on ``executor`` (this party's threads or its Ray cluster; by default
    ``threads`` local threads): which one never changes a bit of the result or of the wire.
    ``stream`` keeps a two-party run's lists on disk (:mod:`vfl.protocols.psi.stream`); by
    default it does so above :data:`STREAM_THRESHOLD` IDs. Peers cannot tell either way."""
    t0 = time.perf_counter()
    roles = Roles(tuple(order))
    if channel.me not in roles.order or sorted(roles.order) != sorted([channel.me, *channel.peers]):
        raise ConfigError(
            f"PSI party order {list(order)} does not match the federation {[channel.me, *channel.peers]}",
            "every party must use the same job file",
        )
    if stream or (stream is None and len(roles.order) == 2 and len(ids) > STREAM_THRESHOLD):
        if len(roles.order) != 2:
            raise ConfigError(
                f"streaming PSI runs with two parties, this job has {len(roles.order)}",
                "run without streaming (the in-memory path handles every party count)",
            )
        with nullcontext(executor) if executor is not None else LocalExecutor(threads) as group:
            s = stream_pair_psi(channel, id_batches(ids), group)
        return PsiResult(s.rows, s.size, s.own_size, s.seconds, s.scalar_mults, s.hashes, s.stages)
    arr = _check_ids(ids)
    t_check = time.perf_counter()
    own_group = executor is None
    group = executor or LocalExecutor(threads)
    mults0, hashes0 = group.scalar_mults, group.hashes
    rng = np.random.default_rng(secrets.randbits(128))
    perm = rng.permutation(len(arr))
    # The agreed order: the shared IDs themselves, sorted. Every party now knows exactly these
    # IDs, so this reveals nothing new, and unlike the order of H(x)^K (whose K is fresh each
    # run) it is the same in every run: seeded training and --resume reproduce exactly. All our
    # IDs are sorted on a thread while the group work runs, so what is left after it is linear.
    sorting = ThreadPoolExecutor(1, thread_name_prefix=f"psi-order-{channel.me}")
    text_order = sorting.submit(lambda: np.argsort(arr.astype(str), kind="stable"))
    try:
        if len(roles.order) == 2:
            rows = pair_intersection(channel, group, arr, perm)
        else:
            rows = _n_party(channel, roles, group, arr, perm, rng)
        t_exchange = time.perf_counter()
        rows = _in_order(rows, text_order.result())
    finally:
        sorting.shutdown(wait=False, cancel_futures=True)
        if own_group:
            group.close()
    t1 = time.perf_counter()
    return PsiResult(
        rows=rows,
        size=len(rows),
        own_size=len(arr),
        seconds=t1 - t0,
        scalar_mults=group.scalar_mults - mults0,
        hashes=group.hashes - hashes0,
        stages={"check": t_check - t0, "exchange": t_exchange - t_check, "order": t1 - t_exchange},
    )


def _in_order(rows: np.ndarray, order: np.ndarray) -> np.ndarray:
    """``rows`` in the order ``order`` lists all our rows in (one pass, no sort)."""
    shared = np.zeros(len(order), dtype=bool)
    shared[rows] = True
    return order[shared[order]].astype(np.int64)


def _n_party(
    channel: Channel,
    roles: Roles,
    group: Executor,
    arr: np.ndarray,
    perm: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Three or more parties: the ring under split keys, then comparison under K*s."""
    keys = RingKeys.random()
    f_own = _phase_one(channel, roles, group, keys, arr, perm)
    if channel.me == roles.comparer:
        as_comparer(channel, roles, group, f_own)
        final = receive_final(channel, roles)
    elif channel.me == roles.dealer:
        final = as_dealer(channel, roles, group, f_own, rng)
    else:
        final = as_holder(channel, roles, group, f_own, rng)
    return _rows_of(final, f_own, perm, roles.dealer)


def _phase_one(
    channel: Channel, roles: Roles, group: Executor, keys: RingKeys, ids: np.ndarray, perm: np.ndarray
) -> np.ndarray:
    """Our list out, the other lists relayed, our list back: all at once, batch-pipelined."""
    others = [p for p in roles.order if p != channel.me]
    pool = ThreadPoolExecutor(len(others) + 1, thread_name_prefix=f"psi-{channel.me}")
    try:
        futures: list[Future[Any]] = [pool.submit(encrypt_own_list, channel, roles, group, keys, ids, perm)]
        futures += [pool.submit(relay_list, channel, roles, group, keys, o) for o in others]
        mine: Future[Any] = pool.submit(finish_own_list, channel, roles, group, keys)
        done, _ = wait([*futures, mine], return_when=FIRST_EXCEPTION)
        for f in done:
            f.result()  # re-raise the first failure
        return mine.result()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _rows_of(final: np.ndarray, f_own: np.ndarray, perm: np.ndarray, dealer: str) -> np.ndarray:
    fin = points_as_keys(final)
    if len(fin) > 1 and not (fin[1:] > fin[:-1]).all():
        raise ProtocolError(f"{dealer} sent an intersection that is not sorted and unique")
    own = points_as_keys(f_own)
    sorter = np.argsort(own)
    pos = np.searchsorted(own, fin, sorter=sorter)
    pos = np.minimum(pos, len(own) - 1) if len(own) else pos
    if len(fin) and (len(own) == 0 or not (own[sorter[pos]] == fin).all()):
        raise ProtocolError(
            f"{dealer} sent an intersection holding values we never had",
            "the parties' runs are out of step or a peer is faulty; re-run the job",
        )
    return perm[sorter[pos]].astype(np.int64)
