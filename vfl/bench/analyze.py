"""``vfl bench analyze``: IV of every feature, federated (per HE scheme) against the same
computation in plaintext on the pooled rows, in one run, with the largest IV difference so a
ratio never hides a wrong answer.

Rows are aligned by the harness's join (FATE's files share their ids), so the figures are the
analysis protocol's own cost, without PSI. The plaintext baseline bins every column with the
same code (`vfl.compute.woe`) and counts events per bin in the clear.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from vfl.bench.harness import load_aligned, run_parties
from vfl.compute.woe import fit_feature_bins, woe_iv_plain
from vfl.crypto.he import make_scheme, scheme_from_public_context
from vfl.protocols.analysis import AnalysisConfig, analyse_active, analyse_passive
from vfl.transport.channel import Channel

__all__ = ["run_analyze_bench"]


def _plaintext(X: np.ndarray, y: np.ndarray, cfg: AnalysisConfig) -> list[float]:
    return [
        woe_iv_plain(X[:, f], y, fit_feature_bins(X[:, f], cfg.max_bin, cfg.min_count)).iv
        for f in range(X.shape[1])
    ]


def run_analyze_bench(
    data: dict[str, Path], schemes: list[str], *, correlation: bool = False, cfg: AnalysisConfig | None = None
) -> list[dict[str, Any]]:
    """One record for the plaintext baseline, then one per scheme (seconds, ratio to the
    baseline, bytes sent, the largest |IV - plaintext IV|)."""
    cfg = cfg or AnalysisConfig(correlation=correlation)
    tables, active = load_aligned(data)
    by_name = {t.name: t for t in tables}
    y = by_name[active].label
    assert y is not None
    order = [active, *[t.name for t in tables if t.name != active]]
    pooled = np.concatenate([by_name[p].features for p in order], axis=1)
    t0 = time.perf_counter()
    base_iv = _plaintext(pooled, y, cfg)
    base_s = time.perf_counter() - t0
    common = {
        "rows": len(y),
        "features": pooled.shape[1],
        "parties": len(order),
        "max_bin": cfg.max_bin,
        "min_count": cfg.min_count,
        "correlation": cfg.correlation,
    }
    records: list[dict[str, Any]] = [{"system": "plaintext (pooled rows)", **common, "seconds": base_s}]
    for he in schemes:
        t1 = time.perf_counter()
        scheme = make_scheme(he)
        keygen_s = time.perf_counter() - t1

        def work(ch: Channel, scheme: Any = scheme) -> Any:
            t = by_name[ch.me]
            if ch.me == active:
                return analyse_active(
                    ch, t.features, t.feature_names, y, scheme=scheme, cfg=cfg, passives=order[1:]
                )
            return analyse_passive(
                ch, t.features, t.feature_names, active=active, open_scheme=scheme_from_public_context
            )

        def timed(ch: Channel, work: Any = work) -> Any:
            return work(ch), ch.stats.total_bytes_sent

        t2 = time.perf_counter()
        res = run_parties(order, timed)
        seconds = time.perf_counter() - t2
        fed_iv = [f["iv"] for f in res[active][0].features]
        records.append(
            {
                "system": f"vfl analyze ({he})",
                **common,
                "he": he,
                "seconds": seconds,
                "keygen_seconds": keygen_s,
                "ratio_to_plaintext": seconds / base_s if base_s else None,
                "bytes_sent": {p: int(res[p][1]) for p in order},
                "max_abs_iv_difference": float(np.max(np.abs(np.asarray(fed_iv) - np.asarray(base_iv)))),
                "baseline_seconds": base_s,
            }
        )
    return records
