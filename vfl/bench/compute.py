"""``vfl bench compute``: the plaintext tree-training steps on NumPy vs an array-API GPU backend.

Every backend runs the same steps on the same float32 data (fixed seed), NumPy first as the
baseline; each step's result is compared with NumPy's so a speed-up never hides a wrong answer.
GPU work is synchronised before a timer stops, so the figures are wall time of finished work.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from vfl.compute.backend import Backend, get_backend, to_numpy
from vfl.compute.binning import BinMapper, fit_bins
from vfl.compute.histogram import histogram
from vfl.compute.linear import linear_scores, logistic, lr_gradient, lr_residual
from vfl.compute.objectives import grad_hess
from vfl.compute.split import BestSplit, SplitRule, best_split
from vfl.compute.trees import route_rows
from vfl.core.errors import ConfigError

__all__ = ["BACKENDS", "STEPS", "available_backends", "run_compute_bench"]

BACKENDS = {"numpy": "cpu", "torch-cpu": "torch", "cuda": "cuda", "cupy": "cupy"}
STEPS = ("transfer", "binning", "grad_hess", "histogram", "split", "tree_depth3", "lr_step")
_DEPTH = 3
_SEED = 20240610
_RULE = SplitRule()


def available_backends() -> list[str]:
    """Backend names (of BACKENDS) that load on this machine, NumPy first."""
    out = []
    for name, dev in BACKENDS.items():
        try:
            get_backend(dev)
        except ConfigError:
            continue
        out.append(name)
    return out


def _sync(be: Backend) -> None:
    """Wait for queued device work, so a timer measures finished work."""
    if be.name == "torch-cuda":
        sys.modules["torch"].cuda.synchronize()
    elif be.name == "cupy":
        sys.modules["cupy"].cuda.Device().synchronize()


def _timed(be: Backend, fn: Callable[[], Any]) -> tuple[Any, float]:
    _sync(be)
    t0 = time.perf_counter()
    out = fn()
    _sync(be)
    return out, time.perf_counter() - t0


def make_data(rows: int, features: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """float32 features (with ~1% NaN), binary labels from a sparse logistic model, margins."""
    rng = np.random.default_rng(_SEED)
    X = rng.standard_normal((rows, features), dtype=np.float32)
    w = np.zeros(features, dtype=np.float32)
    w[: min(5, features)] = np.array([1.5, -1.0, 0.8, 0.5, -0.3], dtype=np.float32)[:features]
    p = 1 / (1 + np.exp(-(X @ w)))
    y = (rng.random(rows, dtype=np.float32) < p).astype(np.float32)
    X[rng.random((rows, features)) < 0.01] = np.nan
    margin = (0.1 * rng.standard_normal(rows, dtype=np.float32)).astype(np.float32)
    return X, y, margin


def _go_left(xp: Any, col: Any, s: BestSplit, missing_bin: int) -> Any:
    left = col <= s.bin
    return left | (col == missing_bin) if s.default_left else left


def _tree(xp: Any, bins: Any, g: Any, h: Any, mapper: BinMapper) -> dict[str, Any]:
    """One depth-3 tree's plaintext work: per level, build the smaller child's histogram and
    subtract it from the parent for the sibling, search splits, then route every row."""
    n = bins.shape[0]
    nb = mapper.n_bins
    G, H = histogram(xp, bins, g, h, None, nb)
    all_rows = xp.arange(n, dtype=xp.int64, device=_device(bins))
    level = [(0, all_rows, G, H)]
    splits: dict[int, BestSplit] = {}
    children: dict[int, tuple[int, int]] = {}
    next_id = 1
    for _ in range(_DEPTH):
        nxt = []
        for node, rows, Gn, Hn in level:
            s = best_split(xp, Gn, Hn, _RULE)
            if s is None:
                continue
            col = xp.take(bins[:, s.feature], rows)
            mask = _go_left(xp, col, s, mapper.missing_bin)
            lrows, rrows = rows[mask], rows[~mask]
            small_left = lrows.shape[0] <= rrows.shape[0]
            Gs, Hs = histogram(xp, bins, g, h, lrows if small_left else rrows, nb)
            Gb, Hb = Gn - Gs, Hn - Hs
            lid, rid = next_id, next_id + 1
            next_id += 2
            splits[node], children[node] = s, (lid, rid)
            if small_left:
                nxt += [(lid, lrows, Gs, Hs), (rid, rrows, Gb, Hb)]
            else:
                nxt += [(lid, lrows, Gb, Hb), (rid, rrows, Gs, Hs)]
        level = nxt
    order = sorted(splits)
    slot = np.full(next_id, -1, dtype=np.int64)
    left = np.full(next_id, -1, dtype=np.int64)
    right = np.full(next_id, -1, dtype=np.int64)
    bits = []
    for k, node in enumerate(order):
        s = splits[node]
        slot[node], (left[node], right[node]) = k, children[node]
        bits.append(_go_left(xp, bins[:, s.feature], s, mapper.missing_bin))
    dev = _device(bins)
    go_left = xp.stack(bits, axis=0) if bits else xp.zeros((0, n), dtype=xp.bool, device=dev)
    leaf = route_rows(
        xp,
        go_left,
        xp.asarray(slot, device=dev),
        xp.asarray(left, device=dev),
        xp.asarray(right, device=dev),
        _DEPTH,
    )
    return {"splits": [(node, splits[node]) for node in order], "leaf": leaf}


def _device(a: Any) -> Any:
    from array_api_compat import device

    return device(a)


def _close(a: Any, b: Any, rtol: float = 1e-4) -> bool:
    a, b = np.asarray(to_numpy(a), dtype=np.float64), np.asarray(to_numpy(b), dtype=np.float64)
    scale = float(np.max(np.abs(a))) if a.size else 0.0
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=rtol, atol=rtol * max(scale, 1e-12)))


def _same_split(a: BestSplit | None, b: BestSplit | None) -> bool:
    if a is None or b is None:
        return a is b
    return (a.feature, a.bin, a.default_left) == (b.feature, b.bin, b.default_left) and bool(
        np.isclose(a.gain, b.gain, rtol=1e-3)
    )


def _lr_step(xp: Any, be: Backend, X: Any, y: Any) -> Any:
    """One full-batch LR step of a party's plaintext work: scores, P(y=1), residual, gradient
    (missing values read as 0, as after imputation)."""
    Xz = xp.where(xp.isnan(X), xp.zeros_like(X), X)
    w = be.asarray(np.linspace(-0.5, 0.5, X.shape[1], dtype=np.float32))
    p = logistic(xp, linear_scores(xp, Xz, w))
    return lr_gradient(xp, Xz, lr_residual(xp, p, y, xp.ones_like(y)))


def _run_one(
    be: Backend, X: np.ndarray, y: np.ndarray, margin: np.ndarray, bins_n: int
) -> tuple[dict[str, float], dict[str, Any]]:
    xp = be.xp
    t: dict[str, float] = {}
    (Xd, yd, md), t["transfer"] = _timed(be, lambda: (be.asarray(X), be.asarray(y), be.asarray(margin)))

    def binning() -> tuple[BinMapper, Any]:
        m = fit_bins(xp, Xd, bins_n)
        return m, m.transform(xp, Xd)

    (mapper, B), t["binning"] = _timed(be, binning)
    (g, h), t["grad_hess"] = _timed(be, lambda: grad_hess(xp, "binary:logistic", yd, md))
    (G, H), t["histogram"] = _timed(be, lambda: histogram(xp, B, g, h, None, mapper.n_bins))
    split, t["split"] = _timed(be, lambda: best_split(xp, G, H, _RULE))
    tree, t["tree_depth3"] = _timed(be, lambda: _tree(xp, B, g, h, mapper))
    lr, t["lr_step"] = _timed(be, lambda: _lr_step(xp, be, Xd, yd))
    res = {
        "mapper": mapper,
        "bins": B,
        "g": g,
        "h": h,
        "G": G,
        "H": H,
        "split": split,
        "tree": tree,
        "lr": lr,
    }
    return t, res


def _agreement(ref: dict[str, Any], res: dict[str, Any]) -> dict[str, bool]:
    cuts_ok = all(
        np.allclose(a, b, rtol=1e-6, atol=0)
        for a, b in zip(ref["mapper"].cuts, res["mapper"].cuts, strict=True)
    )
    bins_ok = bool(np.array_equal(to_numpy(ref["bins"]), to_numpy(res["bins"])))
    tr, tt = ref["tree"], res["tree"]
    tree_ok = len(tr["splits"]) == len(tt["splits"]) and all(
        na == nb and _same_split(a, b) for (na, a), (nb, b) in zip(tr["splits"], tt["splits"], strict=True)
    )
    tree_ok = tree_ok and bool(np.array_equal(to_numpy(tr["leaf"]), to_numpy(tt["leaf"])))
    return {
        "transfer": True,
        "binning": cuts_ok and bins_ok,
        "grad_hess": _close(ref["g"], res["g"]) and _close(ref["h"], res["h"]),
        "histogram": _close(ref["G"], res["G"]) and _close(ref["H"], res["H"]),
        "split": _same_split(ref["split"], res["split"]),
        "tree_depth3": tree_ok,
        "lr_step": _close(ref["lr"], res["lr"], rtol=1e-3),
    }


def run_compute_bench(rows: list[int], backends: list[str], features: int = 20, bins: int = 32) -> list[dict]:
    """One record per (rows, backend, step): seconds, NumPy's seconds, speed-up, agreement.

    NumPy always runs first as the baseline and reference; ``backends`` names the others
    (keys of BACKENDS; "numpy" again compares NumPy with itself). Each non-NumPy backend gets
    an untimed warm-up on 10,000 rows so CUDA start-up and kernel loading are not timed.
    """
    for b in backends:
        if b not in BACKENDS:
            raise ConfigError(f"unknown compute backend {b!r}", f"use {', '.join(BACKENDS)}")
    loaded = {b: get_backend(BACKENDS[b]) for b in dict.fromkeys(["numpy", *backends])}
    records: list[dict] = []
    for n in rows:
        X, y, margin = make_data(int(n), features)
        ref_t, ref = _run_one(loaded["numpy"], X, y, margin, bins)
        others = [b for b in backends if b != "numpy"] or ["numpy"]
        for name in others:
            be = loaded[name]
            if name != "numpy":
                w = min(int(n), 10_000)
                _run_one(be, X[:w], y[:w], margin[:w], bins)
            t, res = _run_one(be, X, y, margin, bins)
            agree = _agreement(ref, res)
            del res
            for step in STEPS:
                records.append(
                    {
                        "rows": int(n),
                        "features": features,
                        "bins": bins,
                        "backend": name,
                        "device": be.name,
                        "step": step,
                        "seconds": t[step],
                        "numpy_seconds": ref_t[step],
                        "speedup": ref_t[step] / t[step] if t[step] > 0 else None,
                        "agree": agree[step],
                    }
                )
        del ref
    return records
