"""``vfl analyze``: one party's side of a feature-analysis job (handshake, PSI, then the analysis
protocol) and the in-memory run of every party that writes ``OUT/analysis.json``.

analysis.json (stable keys): ``features`` [{party, name, edges, missing_bin, woe, iv, ...}] with
a value's bin ``numpy.searchsorted(edges, x, side="right")`` and missing values in
``missing_bin``; ``correlation`` [{a: {party, name}, b: {party, name}, r}] for every pair of
features held by different parties; ``selection`` {party: [column, ...]} (by IV, then by
correlation), usable as a later training job's feature columns; ``stats`` {party: [...]}.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vfl.compute.woe import select_features
from vfl.core.errors import ConfigError
from vfl.core.jobs import new_job_id
from vfl.crypto.he import make_scheme, scheme_from_public_context
from vfl.data.readers import NanPolicy, read_party_table
from vfl.data.table import PartyTable
from vfl.protocols.analysis import AnalysisConfig, analyse_active, analyse_passive
from vfl.protocols.analysis.active import ActiveAnalysis
from vfl.protocols.analysis.passive import PassiveAnalysis
from vfl.protocols.analysis.stages import check_share
from vfl.runtime.analysis_scorecard import fit_scorecard_party, scorecard_table
from vfl.runtime.job.align import align_party
from vfl.runtime.job.handshake import answer, propose, same_job
from vfl.runtime.job.run import commit
from vfl.runtime.job.spec import JobSpec
from vfl.runtime.modes.config import build_simulation_config
from vfl.runtime.modes.local import run_in_memory
from vfl.runtime.store.atomic import write_json_atomic
from vfl.transport.channel import Channel
from vfl.transport.recording import RecordedMessage

__all__ = [
    "TASK",
    "AnalysisJobFile",
    "PartyAnalysis",
    "analysis_spec",
    "analyze",
    "analyze_party",
    "analyze_tables",
    "load_analysis_job",
]

#: The registry's job kind (``JOB_KINDS``) of an analysis.
TASK = "analyze"


@dataclass
class PartyAnalysis:
    name: str
    intersection: int
    result: ActiveAnalysis | PassiveAnalysis
    seconds: dict[str, float] = field(default_factory=dict)
    bytes_sent: int = 0
    scorecard: dict[str, Any] | None = None  # this party's points per bin (and, at the active, P(y=1))


def analysis_spec(
    parties: list[str], active: str, he: str, cfg: AnalysisConfig, job_id: str | None = None
) -> JobSpec:
    """The agreed job: the label holder first, the analysis settings as the job's parameters."""
    return JobSpec.create(
        job_id=job_id or new_job_id("analyze"),
        parties=parties,
        active=active,
        he=he,
        task=TASK,
        model_params=cfg.to_dict(),
        seed=cfg.seed,
    )


def analyze_party(
    spec: JobSpec, table: PartyTable, channel: Channel, *, share: str = "counts", agreed: bool = False
) -> PartyAnalysis:
    """Our side of one analysis job: handshake, PSI, then the protocol in our role."""
    if spec.task != TASK or spec.active is None:
        raise ConfigError(f"job {spec.job_id} is not an analysis with a label holder", "use vfl analyze")
    cfg = AnalysisConfig(**spec.model_params)
    check_share(share)
    t0 = time.perf_counter()
    if not agreed:
        if channel.me == spec.order[0]:
            propose(channel, spec)
        else:
            answer(channel, spec.order[0], same_job(spec))
    aligned = align_party(channel, table, spec.order)
    t1 = time.perf_counter()
    t = aligned.table
    result: ActiveAnalysis | PassiveAnalysis
    if channel.me == spec.active:
        if t.label is None:
            raise ConfigError(f"{channel.me} is the label holder but has no label", "name it with --label")
        result = analyse_active(
            channel,
            t.features,
            list(t.feature_names),
            t.label,
            scheme=make_scheme(spec.he),
            cfg=cfg,
            passives=list(spec.order[1:]),
        )
    else:
        result = analyse_passive(
            channel,
            t.features,
            list(t.feature_names),
            active=spec.active,
            open_scheme=scheme_from_public_context,
            share=share,
        )
    out = PartyAnalysis(channel.me, aligned.psi.size, result)
    if cfg.scorecard:
        out.scorecard = fit_scorecard_party(channel, spec, t, result)
    commit(channel, spec, None, None)  # type: ignore[arg-type]  # nothing kept before the word
    out.seconds = {"psi": t1 - t0, "analysis": time.perf_counter() - t1, "total": time.perf_counter() - t0}
    out.bytes_sent = channel.stats.total_bytes_sent
    return out


def merge(spec: JobSpec, runs: Mapping[str, PartyAnalysis], cfg: AnalysisConfig) -> dict[str, Any]:
    """analysis.json from every party's own result. Only a simulation holds them all: a passive's
    bin edges come from the passive's own result here, never from the wire."""
    assert spec.active is not None
    act = runs[spec.active].result
    assert isinstance(act, ActiveAnalysis)
    stats: dict[str, list[dict[str, Any]]] = {spec.active: act.own_stats}
    features = [dict(f) for f in act.features]
    for name in spec.order[1:]:
        res = runs[name].result
        assert isinstance(res, PassiveAnalysis)
        stats[name] = res.stats
        own = [f for f in features if f["party"] == name]
        for f, fb, s in zip(own, res.bins, res.stats, strict=True):
            f["name"] = s["name"]  # the real name, also where the policy sent "x<i>"
            f["edges"] = fb.edges.tolist()
            f["missing_bin"] = fb.missing  # bin 0 where too few were missing for a bin of their own
    rates = {(p, s["name"]): s["missing_rate"] for p, rows in stats.items() for s in rows}
    for f in features:
        f["missing_rate"] = rates[(f["party"], f["name"])]
    real = {spec.active: {n: n for n in (s["name"] for s in act.own_stats)}}
    for p in spec.order[1:]:  # shared name -> real name ("x<i>" where the policy hid names)
        real[p] = {sh["name"]: s["name"] for sh, s in zip(act.shared[p], stats[p], strict=True)}
    correlation = [
        {
            **{k: {"party": c[k]["party"], "name": real[c[k]["party"]][c[k]["name"]]} for k in ("a", "b")},
            "r": c["r"],
        }
        for c in act.correlation
    ]
    out = {
        "job_id": spec.job_id,
        "he": spec.he,
        "active": spec.active,
        "parties": list(spec.order),
        "intersection": runs[spec.active].intersection,
        "label": act.label,
        "settings": cfg.to_dict(),
        "features": features,
        "correlation": correlation,
        "selection": {
            "iv_min": cfg.iv_min,
            "max_abs_r": cfg.max_abs_r,
            "features": select_features(features, correlation, iv_min=cfg.iv_min, max_abs_r=cfg.max_abs_r),
        },
        "stats": stats,
        "shared": {p: act.shared[p] for p in spec.order[1:]},
        "seconds": {p: r.seconds for p, r in runs.items()},
        "bytes_sent": {p: r.bytes_sent for p, r in runs.items()},
    }
    if cfg.scorecard:
        parts = {p: r.scorecard for p, r in runs.items() if r.scorecard is not None}
        out["scorecard"] = scorecard_table(
            spec, parts, {p: [s["name"] for s in stats[p]] for p in spec.order}
        )
    return out


def analyze_tables(
    tables: Mapping[str, PartyTable],
    active: str,
    *,
    he: str = "ckks",
    cfg: AnalysisConfig | None = None,
    shares: Mapping[str, str] | None = None,
    job_id: str | None = None,
    record: list[RecordedMessage] | None = None,
) -> dict[str, Any]:
    """Every party as a thread over the memory transport; returns analysis.json's content."""
    cfg = cfg or AnalysisConfig()
    shares = dict(shares or {})
    unknown = set(shares) - set(tables)
    if unknown:
        raise ConfigError(
            f"share policies name unknown parties {sorted(unknown)}", f"parties: {', '.join(tables)}"
        )
    spec = analysis_spec(list(tables), active, he, cfg, job_id)

    def work(name: str, channel: Channel) -> PartyAnalysis:
        return analyze_party(spec, tables[name], channel, share=shares.get(name, "counts"))

    runs = run_in_memory(list(spec.order), spec.job_id, work, record=record)
    return merge(spec, runs, cfg)


def analyze(
    data: tuple[str, ...],
    id_column: str | None,
    label: str | None,
    out_dir: Path,
    *,
    he: str = "ckks",
    cfg: AnalysisConfig | None = None,
    shares: Mapping[str, str] | None = None,
    nan_policy: NanPolicy = "keep",
) -> dict[str, Any]:
    """``vfl analyze``: read every party's file (no --data: the embedded default), run the
    analysis in memory and write ``OUT/analysis.json``."""
    sim = build_simulation_config(
        data, id_column, label, model="none", he=he, nan_policy=nan_policy, out_dir=out_dir
    )
    if sim.active is None:
        raise ConfigError(
            "the analysis needs the party holding the label", "name it with --label NAME:COLUMN"
        )
    tables = {
        p.name: read_party_table(
            p.path,
            name=p.name,
            id_column=sim.id_column,
            label_column=p.label_column,
            nan_policy=nan_policy,
            id_rule=sim.id_rule,
        )
        for p in sim.parties
    }
    result = analyze_tables(tables, sim.active, he=he, cfg=cfg, shares=shares)
    result["dataset"] = sim.dataset_note or {p.name: str(p.path) for p in sim.parties}
    write_json_atomic(Path(out_dir) / "analysis.json", result, allow_nan=False)
    return result


@dataclass(frozen=True)
class AnalysisJobFile:
    """An analysis job file: ``[analysis]`` (id_column, label "NAME:COL", he and the settings of
    :class:`AnalysisConfig`), ``[data]`` (party = path) and ``[share]`` (party = policy)."""

    data: tuple[str, ...]
    id_column: str | None
    label: str | None
    he: str
    cfg: AnalysisConfig
    shares: dict[str, str]


def load_analysis_job(path: Path) -> AnalysisJobFile:
    import tomllib

    try:
        doc = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read analysis job file {path}: {exc}", "give a TOML file") from exc
    section = dict(doc.get("analysis", {}))
    unknown = set(doc) - {"analysis", "data", "share"}
    if unknown:
        raise ConfigError(f"{path}: unknown tables {sorted(unknown)}", "use [analysis], [data], [share]")
    top = {k: section.pop(k, None) for k in ("id_column", "label", "he")}
    try:
        cfg = AnalysisConfig(**section)
    except TypeError as exc:
        raise ConfigError(
            f"{path}: [analysis] {exc}", f"settings: {', '.join(AnalysisConfig().to_dict())}"
        ) from exc
    shares = {str(k): check_share(str(v), f"{path} [share] {k}") for k, v in doc.get("share", {}).items()}
    data = tuple(f"{k}={v}" for k, v in doc.get("data", {}).items())
    return AnalysisJobFile(data, top["id_column"], top["label"], top["he"] or "ckks", cfg, shares)
