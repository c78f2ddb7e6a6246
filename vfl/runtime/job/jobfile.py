"""Job files and party configs (TOML), read the same way by every party.

A **party config** (``parties/NAME.toml``) is private to its party: where it listens, its data
file and columns, its certificates, and its peers' addresses. A **job file** (``parties/job.toml``)
is shared: the parties in order (label holder first), the model, HE scheme, split and parameters.
Where a party computes (cpu, torch, cuda, cupy, auto) is party-local and never part of the
handshake: the party config's ``[party] device``, unless the job file's ``[job] device`` names one
for this job (each party reads that key for itself). Likewise its `[compute]` section (executor =
"local" or "ray", address, workers): where its heavy per-row work runs, never sent.
Relative paths are resolved against the file that names them.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from vfl.compute.backend import check_device
from vfl.core.errors import ConfigError, VflError
from vfl.core.jobs import check_job_id
from vfl.core.parties import check_party_name, check_party_names
from vfl.data.ids import IdRule
from vfl.executor.choose import ComputeConfig
from vfl.runtime.job.spec import JobSpec
from vfl.runtime.models.registry import MODEL_CHOICES, NO_MODEL, make_params

__all__ = ["JobFile", "PartyConfig", "load_job", "load_party_config"]


def _read_toml(path: Path, what: str) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(
            f"{what} {path} not found", "check the path (relative paths start at the current folder)"
        )
    try:
        return tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, RecursionError) as exc:  # deep [[[[...
        raise ConfigError(f"{what} {path} is not valid TOML: {exc}", "fix the line named above") from exc


def _need(d: dict[str, Any], key: str, path: Path, section: str) -> Any:
    if key not in d:
        raise ConfigError(f"{path}: [{section}] has no '{key}'", f"add {key} = ... under [{section}]")
    return d[key]


T = TypeVar("T")


def _typed(what: str) -> Callable[[Callable[[str | Path], T]], Callable[[str | Path], T]]:
    """A value of the wrong type or shape anywhere in the file (``parties = 5``, ``[peers]`` a
    string) is a ConfigError naming the file, not a TypeError from inside the loader (found by
    fuzzing the loaders, issue 18)."""

    def wrap(load: Callable[[str | Path], T]) -> Callable[[str | Path], T]:
        @functools.wraps(load)
        def run(path: str | Path) -> T:
            try:
                return load(path)
            except VflError:  # the loader's own message (ConfigError is a ValueError too)
                raise
            except (TypeError, AttributeError, ValueError) as exc:
                raise ConfigError(
                    f"{what} {path} has a value of the wrong type or shape ({exc})",
                    "compare it with the examples in parties/",
                ) from exc

        return run

    return wrap


@dataclass(frozen=True)
class PartyConfig:
    name: str
    listen: str
    data: Path
    id_column: str
    label_column: str | None
    cert_dir: Path
    peers: dict[str, str]
    nan_policy: str = "error"
    id_rule: IdRule = field(default_factory=IdRule)
    out_dir: Path = Path("out")
    source: Path = Path()
    accept_from: tuple[str, ...] = ()  # vfl serve: who may propose jobs
    allowed_models: tuple[str, ...] = MODEL_CHOICES
    device: str = "cpu"  # where this party computes the jobs it serves (party-local)
    offset_column: str | None = None  # label holder: per-row offsets (log(exposure)), never sent
    compute: ComputeConfig = field(default_factory=ComputeConfig)  # [compute]: party-local, never sent


@_typed("party config")
def load_party_config(path: str | Path) -> PartyConfig:
    p = Path(path).resolve()
    d = _read_toml(p, "party config")
    party = d.get("party")
    if not isinstance(party, dict):
        raise ConfigError(f"{p}: no [party] section", "start the file with [party] name = ... listen = ...")
    base = p.parent
    name = check_party_name(_need(party, "name", p, "party"))
    peers = {check_party_name(k): str(v) for k, v in (d.get("peers") or {}).items()}
    if not peers:
        raise ConfigError(f"{p}: no [peers]", 'list every other party as name = "host:port"')
    data = d.get("data") or {}
    policy = d.get("serve") or {}
    device = check_device(str(party.get("device", "cpu")), str(p), "under [party]")
    return PartyConfig(
        name=name,
        listen=str(_need(party, "listen", p, "party")),
        data=(base / str(_need(data, "path", p, "data"))).resolve(),
        id_column=str(data.get("id_column", "id")),
        label_column=data.get("label_column"),
        offset_column=data.get("offset_column"),
        nan_policy=str(data.get("nan", "error")),
        id_rule=IdRule(strip=bool(data.get("id_strip", True)), case=data.get("id_case", "preserve")),
        cert_dir=(base / str(party.get("certs", "certs"))).resolve(),
        peers=peers,
        out_dir=(base / str(party.get("out", "../out"))).resolve(),
        source=p,
        accept_from=tuple(policy.get("accept_from", list(peers))),
        allowed_models=tuple(policy.get("models", MODEL_CHOICES)),
        device=device,
        compute=_compute(d.get("compute") or {}, p),
    )


def _compute(section: dict[str, Any], path: Path) -> ComputeConfig:
    """``[compute] executor = "local" | "ray"``, ``address``, ``workers``: where this party's heavy
    per-row work runs. Like ``device`` it stays with the party: no peer ever sees it."""
    unknown = sorted(set(section) - {"executor", "address", "workers"})
    if unknown:
        raise ConfigError(
            f"{path}: unknown keys under [compute]: {unknown}", "keys: executor, address, workers"
        )
    workers = section.get("workers")
    if workers is not None and (not isinstance(workers, int) or isinstance(workers, bool)):
        raise ConfigError(f"{path}: [compute] workers must be a whole number, got {workers!r}")
    try:
        return ComputeConfig(
            executor=str(section.get("executor", "local")),
            address=str(section["address"]) if section.get("address") else None,
            workers=workers,
        )
    except ConfigError as exc:
        raise ConfigError(f"{path}: under [compute]: {exc.cause}", exc.hint) from None


@dataclass(frozen=True)
class JobFile:
    spec: JobSpec
    source: Path
    sets_device: bool = False  # [job] device given: it wins over the party config's

    def spec_for(self, cfg: PartyConfig) -> JobSpec:
        """The job as ``cfg``'s party runs it: on the job file's device if it names one, else on
        the party config's (both party-local, never sent)."""
        return self.spec if self.sets_device else replace(self.spec, device=cfg.device)

    def with_params(self, params: dict[str, Any]) -> JobFile:
        """This job with ``params`` (``vfl run --param``) over its ``[params]``, checked now."""
        if not params:
            return self
        spec = replace(self.spec, model_params={**self.spec.model_params, **params})
        _check_params(spec, self.source)
        return replace(self, spec=spec)

    def party_config_path(self, name: str) -> Path:
        """Where ``--as NAME`` finds its party config by default: beside the job file."""
        return self.source.parent / f"{name}.toml"


@_typed("job file")
def load_job(path: str | Path) -> JobFile:
    p = Path(path).resolve()
    d = _read_toml(p, "job file")
    job = _need(d, "job", p, "job")
    parties = list(_need(job, "parties", p, "job"))
    check_party_names(parties)
    active = job.get("active")
    if active is not None and active not in parties:
        raise ConfigError(f"{p}: active party {active!r} is not in parties {parties}", "fix [job] active")
    model = str(job.get("model", "lr"))
    if model not in MODEL_CHOICES:
        raise ConfigError(f"{p}: unknown model {model!r}", f"use one of {', '.join(MODEL_CHOICES)}")
    if model != NO_MODEL and active is None:
        raise ConfigError(f"{p}: training needs [job] active = the label holder", 'e.g. active = "insurer"')
    params = dict(d.get("params") or {})
    if "device" in params:
        raise ConfigError(
            f"{p}: [params] device would be sent to every peer, but it is party-local",
            "move it to [job] device = ...",
        )
    device = check_device(str(job.get("device", "cpu")), str(p), "under [job]")
    spec = JobSpec.create(
        job_id=check_job_id(str(_need(job, "id", p, "job"))),
        parties=parties,
        active=active,
        model=model,
        he=str(job["he"]) if "he" in job else None,
        test_size=_number(job, "test_size", 0.2, float, p),
        seed=_number(job, "seed", 42, int, p),
        model_params=params,
        device=device,
    )
    _check_params(spec, p)
    return JobFile(spec=spec, source=p, sets_device="device" in job)


def _number(table: dict[str, Any], key: str, default: Any, kind: type, path: Path) -> Any:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or (kind is int and value != int(value)):
        raise ConfigError(
            f"{path}: [job] {key} = {value!r} is not a {kind.__name__}", f"e.g. {key} = {default}"
        )
    return kind(value)


def _check_params(spec: JobSpec, path: Path) -> None:
    """The job's split and model parameters, checked when the file is read (before any peer)."""
    if not (isinstance(spec.test_size, float) and 0.0 <= spec.test_size < 1.0):
        raise ConfigError(
            f"{path}: [job] test_size = {spec.test_size} is not in [0, 1)", "e.g. test_size = 0.2"
        )
    if spec.model == NO_MODEL:
        return
    try:
        make_params(spec.model, spec.he, spec.seed, spec.model_params)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc.cause}", exc.hint) from exc
