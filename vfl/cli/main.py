"""vfl: vertical federated learning across organisations that hold different columns about
the same people.

\b
Example (quick start: three parties, embedded data, all in this process):
  vfl simulate
  vfl simulate --help       # every command has --help with examples
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from vfl.cli.errors import friendly_errors
from vfl.cli.lazy import LazyGroup
from vfl.compute.backend import DEVICES
from vfl.core.errors import ConfigError
from vfl.runtime.models.registry import HE_BACKENDS, MODEL_CHOICES, MODELS

# gRPC's C core logs handshake and connection chatter to stderr ("I1201 ... Handshake failed"); a
# person reads vfl's own lines instead (refusals and TLS failures are vfl errors naming the peer).
# Set before any command imports grpc; an operator's own GRPC_VERBOSITY still wins.
os.environ.setdefault("GRPC_VERBOSITY", "NONE")
os.environ.setdefault("GRPC_TRACE", "")

# Commands import what they run inside their bodies, so that `vfl --help` and every command load
# only their own code (no gRPC, scikit-learn, pygal or crypto stack for help or a psi run).

__all__ = ["cli", "main"]

_DATA_HELP = "A party's file as NAME=PATH (CSV or Parquet); repeat per party. Default: the embedded dataset."


@click.group(
    cls=LazyGroup,
    lazy_subcommands={
        "bench": "vfl.cli.bench:bench",
        "report": "vfl.cli.report:report",
        "analyze": "vfl.cli.analyze:analyze",
    },
    help=__doc__,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
@click.version_option(package_name="vfl")
def cli(debug: bool) -> None:
    pass


def _param_option(fn):  # type: ignore[no-untyped-def]
    fn = click.option(
        "--param",
        "params",
        multiple=True,
        metavar="NAME=VALUE",
        help="A model parameter (the estimators' names, e.g. max_iter=200, n_estimators=10); "
        "repeatable; checked before any party starts.",
    )(fn)
    return click.option(
        "--objective",
        default=None,
        metavar="NAME",
        help="The learning task, with xgboost's names: binary:logistic, multi:softprob, "
        "reg:squarederror, count:poisson, reg:gamma, reg:tweedie (the same as --param objective=NAME).",
    )(fn)


def _model_params(params: tuple[str, ...], objective: str | None) -> dict[str, object]:
    from vfl.runtime.modes.config import parse_param_options

    out = parse_param_options(params)
    if objective is not None:
        if out.get("objective", objective) != objective:
            raise ConfigError("--objective and --param objective= disagree", "give the objective once")
        out["objective"] = objective
    return out


def _common_data_options(fn):  # type: ignore[no-untyped-def]
    fn = click.option("--data", "data", multiple=True, metavar="NAME=PATH", help=_DATA_HELP)(fn)
    fn = click.option("--id-column", default=None, help="The ID column, identical at every party.")(fn)
    fn = click.option(
        "--id-case",
        type=click.Choice(["preserve", "lower", "upper"]),
        default="preserve",
        help="Case rule applied to IDs at every party before matching.",
    )(fn)
    fn = click.option(
        "--nan",
        "nan_policy",
        type=click.Choice(["error", "mean", "median", "zero", "keep"]),
        default="error",
        help="What to do with missing feature values (default: refuse).",
    )(fn)
    fn = click.option(
        "--out",
        "out_dir",
        type=click.Path(path_type=Path),
        default=Path("out"),
        show_default=True,
        help="Output folder.",
    )(fn)
    return fn


@cli.command()
@_common_data_options
@click.option(
    "--label", default=None, metavar="NAME:COL", help="Which party holds the label, and its column."
)
@click.option(
    "--offset",
    default=None,
    metavar="NAME:COL",
    help="The label holder's per-row offset column (sbt: xgboost's base_margin; log(exposure) for "
    "count:poisson, reg:gamma, reg:tweedie). Never sent.",
)
@click.option(
    "--model",
    type=click.Choice(MODEL_CHOICES),
    default="lr",
    show_default=True,
    help="Model to train after alignment (none: alignment only).",
)
@click.option(
    "--he",
    type=click.Choice(HE_BACKENDS),
    default=None,
    help="Homomorphic encryption backend [default: "
    + ", ".join(f"{k.default_he} for {n}" for n, k in MODELS.items())
    + "].",
)
@_param_option
@click.option(
    "--device",
    type=click.Choice(DEVICES),
    default="cpu",
    show_default=True,
    help="Where each party's plaintext algebra runs (auto: a GPU if usable, else cpu). Never sent.",
)
@click.option(
    "--executor",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="Where each party's heavy per-row work runs: local threads, or Ray (a local Ray that vfl "
    "starts; a party joins a cluster with [compute] in its config). Never sent.",
)
@click.option(
    "--transport",
    type=click.Choice(["memory", "grpc"]),
    default="memory",
    show_default=True,
    help="memory: parties as threads; grpc: separate processes over mutual TLS on loopback.",
)
@click.option("--test-size", type=float, default=0.2, show_default=True)
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--quiet", is_flag=True, help="Print nothing but errors.")
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: progress and the summary as JSON lines, for scripts and CI.",
)
@friendly_errors
def simulate(
    data,
    id_column,
    id_case,
    nan_policy,
    out_dir,
    label,
    offset,
    model,
    he,
    device,
    executor,
    transport,
    test_size,
    seed,
    quiet,
    log_format,
    params,
    objective,
):  # type: ignore[no-untyped-def]
    """Run all parties in one command: PSI alignment, then training.

    \b
    Examples:
      vfl simulate                                   # embedded three-party dataset
      vfl simulate --data insurer=a.csv --data hospital=b.parquet --label insurer:y
      vfl simulate --model sbt --param n_estimators=10 --param max_depth=4
      vfl simulate --data a=claims.csv --data b=visits.csv --label a:n_claims --model sbt \
          --objective count:poisson --offset a:log_exposure
    """
    from rich.console import Console

    from vfl.data.ids import IdRule
    from vfl.report.html import build_report
    from vfl.report.progress import make_progress
    from vfl.report.summary import print_summary
    from vfl.runtime.models.registry import default_he
    from vfl.runtime.modes.config import build_simulation_config
    from vfl.runtime.modes.simulate import simulate as run_simulation

    cfg = build_simulation_config(
        data,
        id_column,
        label,
        offset,
        model=model,
        he=he or default_he(model),
        model_params=_model_params(params, objective),
        device=device,
        executor=executor,
        transport=transport,
        test_size=test_size,
        seed=seed,
        out_dir=out_dir,
        nan_policy=nan_policy,
        id_rule=IdRule(case=id_case),
    )
    with make_progress("json" if log_format == "json" else "quiet" if quiet else "rich") as sink:
        summary = run_simulation(cfg, progress=sink.callback)
    if model != "none":
        build_report(out_dir, command="vfl simulate")  # writes plots/ too
    if log_format == "json":
        click.echo(json.dumps({"event": "summary", **summary}))
    elif not quiet:
        print_summary(summary, Console())
        click.echo(f"aligned rows: {summary['intersection']}   summary: {out_dir / 'summary.json'}")
        if model != "none":
            click.echo(f"report: {out_dir / 'report.html'}   plots: {out_dir / 'plots'}/")


@cli.command()
@_common_data_options
@friendly_errors
def psi(data, id_column, id_case, nan_policy, out_dir):  # type: ignore[no-untyped-def]
    """Private set intersection only: every party learns the shared IDs and nothing else.

    \b
    Example:
      vfl psi --data pharma=p.csv --data insurer=i.csv --data hospital=h.csv --id-column patient_id
    """
    from vfl.data.ids import IdRule
    from vfl.report.progress import make_progress
    from vfl.runtime.modes.config import build_simulation_config
    from vfl.runtime.modes.simulate import simulate as run_simulation

    cfg = build_simulation_config(
        data,
        id_column,
        None,
        model="none",
        out_dir=out_dir,
        nan_policy=nan_policy,
        id_rule=IdRule(case=id_case),
    )
    with make_progress("rich") as sink:  # IDs done, rate and ETA per party while the group work runs
        summary = run_simulation(cfg, progress=sink.callback)
    click.echo(f"aligned rows: {summary['intersection']}   in {summary['seconds']['psi']:.1f} s")
    click.echo(f"each party's aligned IDs: {out_dir}/<party>/aligned_ids.csv")


@cli.group()
def data() -> None:
    """Data helpers.

    \b
    Example:
      vfl data synth --rows 10000 --parties 3 --out data/synth
    """


@data.command()
@click.option("--rows", type=int, required=True, help="Rows per party.")
@click.option("--parties", type=int, default=3, show_default=True)
@click.option(
    "--overlap", type=float, default=0.8, show_default=True, help="Share of each party's rows held by all."
)
@click.option("--features", type=int, default=8, show_default=True, help="Features per party.")
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), default="csv", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", "out_dir", type=click.Path(path_type=Path), required=True)
@friendly_errors
def synth(rows, parties, overlap, features, fmt, seed, out_dir):  # type: ignore[no-untyped-def]
    """Synthetic vertical data of any size (party0 holds the label y).

    \b
    Example:
      vfl data synth --rows 100000 --parties 3 --overlap 0.8 --out synth/
    """
    from vfl.data.synth import write_synthetic

    paths = write_synthetic(
        out_dir, rows=rows, parties=parties, overlap=overlap, features=features, fmt=fmt, seed=seed
    )
    for name, p in paths.items():
        click.echo(f"{name}: {p}")
    args = " ".join(f"--data {n}={p}" for n, p in paths.items())
    click.echo(f"try: vfl simulate {args} --label party0:y")


@cli.command()
@click.argument("job_file", type=click.Path(path_type=Path))
@click.option("--as", "party", required=True, help="Which party of the job this process is.")
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=None,
    help="This party's config [default: NAME.toml beside the job file].",
)
@click.option("--quiet", is_flag=True, help="Print nothing but errors.")
@click.option(
    "--audit-wire",
    type=click.Path(path_type=Path),
    default=None,
    help="Append one JSON line per message received (route, topic, type, bytes; no payload).",
)
@click.option(
    "--connect-timeout",
    type=float,
    default=30.0,
    show_default=True,
    help="Seconds to wait for a peer to come up before giving up.",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Continue a killed job from the last checkpoint every party holds (all parties resume).",
)
@click.option(
    "--device",
    type=click.Choice(DEVICES),
    default=None,
    help="Where this party computes [default: the job file's [job] device, else the party "
    "config's [party] device, else cpu]. Never sent.",
)
@_param_option
@friendly_errors
def run(job_file, party, config_path, quiet, audit_wire, connect_timeout, resume, device, params, objective):  # type: ignore[no-untyped-def]
    """Run one party's side of a job, talking to its peers over gRPC with mutual TLS.

    \b
    Example (three terminals, one per party):
      vfl run parties/job.toml --as insurer
      vfl run parties/job.toml --as hospital
      vfl run parties/job.toml --as pharma
      vfl run parties/job.toml --as insurer --param max_iter=200   # every party passes the same
    """
    from vfl.report.progress import make_progress
    from vfl.runtime.job.jobfile import load_job, load_party_config
    from vfl.runtime.modes.party import run_as
    from vfl.transport.grpc import GrpcSettings

    job = load_job(job_file).with_params(_model_params(params, objective))
    cfg = load_party_config(config_path or job.party_config_path(party))
    if cfg.name != party:
        raise ConfigError(
            f"{cfg.source} is the config of {cfg.name!r}, not {party!r}", "pass --config for this party"
        )
    with make_progress("quiet" if quiet else "rich") as sink:
        outcome = run_as(
            job,
            cfg,
            settings=GrpcSettings(connect_timeout=connect_timeout),
            audit_wire=audit_wire,
            checkpoint_dir=cfg.out_dir / "checkpoints",
            resume=resume,
            device=device,
            progress=sink.callback(party),
            on_wait=None if quiet else (lambda line: click.echo(line, err=True)),
        )
    if not quiet:
        click.echo(f"{party}: aligned rows {outcome.intersection}; outputs in {cfg.out_dir / party}")
        for k, v in outcome.metrics.items():
            click.echo(f"  {k}: {v:.4f}")


_SECONDS = click.FloatRange(0, 86_400, min_open=True)  # a liveness setting: more than 0 s, at most a day


@cli.command()
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    required=True,
    help="This party's config, e.g. parties/hospital.toml.",
)
@click.option("--max-jobs", type=int, default=None, help="Stop after this many jobs [default: run forever].")
@click.option("--idle-timeout", type=float, default=None, help="Stop after this many idle seconds.")
@click.option(
    "--connect-timeout",
    type=_SECONDS,
    default=30.0,
    show_default=True,
    help="Seconds a job's peer may take to come up (and to open the job) before the job fails.",
)
@click.option(
    "--ping-every",
    type=_SECONDS,
    default=2.0,
    show_default=True,
    help="Seconds between checks of how a job stands at the peer we wait for.",
)
@click.option(
    "--dead-after",
    type=_SECONDS,
    default=10.0,
    show_default=True,
    help="Seconds a peer may be unreachable during a job before the job fails, naming it.",
)
@friendly_errors
def serve(config_path, max_jobs, idle_timeout, connect_timeout, ping_every, dead_after):  # type: ignore[no-untyped-def]
    """Run this party as a long-lived process that accepts jobs from its peers.

    \b
    The label holder then starts jobs with `vfl run JOB --as NAME` or from Python
    (Federation.from_config). Policy: [serve] accept_from = [...], models = [...].
    Example:
      vfl serve --config parties/hospital.toml
      vfl serve --config parties/hospital.toml --dead-after 30   # a slow network
    """
    from vfl.runtime.job.jobfile import load_party_config
    from vfl.runtime.modes.serve import serve as serve_party
    from vfl.transport.grpc import GrpcSettings

    serve_party(
        load_party_config(config_path),
        max_jobs=max_jobs,
        idle_timeout=idle_timeout,
        settings=GrpcSettings(connect_timeout=connect_timeout, ping_every=ping_every, dead_after=dead_after),
        log=lambda m: click.echo(m, err=True),
    )


@cli.command()
@click.argument("model_dir", type=click.Path(path_type=Path))
@_common_data_options
@friendly_errors
def predict(model_dir, data, id_column, id_case, nan_policy, out_dir):  # type: ignore[no-untyped-def]
    """Score new rows with a trained model: PSI on their IDs, then federated scoring.

    \b
    MODEL_DIR holds NAME/model.json per party (the output folder of `vfl simulate`); with no
    --data, the embedded dataset's files are scored.
    Examples:
      vfl simulate --out out && vfl predict out --out out/scores
      vfl predict out --data insurer=new_i.csv --data hospital=new_h.csv --data pharma=new_p.csv \\
          --id-column patient_id --out out/scores
    """
    from vfl.data.datasets import default_dataset
    from vfl.data.ids import IdRule
    from vfl.runtime.modes.config import parse_data_options
    from vfl.runtime.modes.predict import predict_local

    if data:
        files = parse_data_options(data)
    else:
        ds = default_dataset()
        files, id_column = dict(ds.paths), id_column or ds.id_column
    res = predict_local(
        model_dir,
        files,
        id_column=id_column or "id",
        nan_policy=nan_policy,
        id_rule=IdRule(case=id_case),
        out_dir=out_dir,
    )
    click.echo(
        f"scored {res['rows_scored']:,} of {res['rows_at_label_holder']:,} rows held by every party; "
        f"predictions: {res['predictions']}"
    )


@cli.group()
def certs() -> None:
    """Federation certificates for mutual TLS.

    \b
    Example:
      vfl certs init certs && vfl certs issue certs hospital --host hospital.example.org
    """


@certs.command("init")
@click.argument("cert_dir", type=click.Path(path_type=Path))
@friendly_errors
def certs_init(cert_dir):  # type: ignore[no-untyped-def]
    """Create the federation CA in CERT_DIR (keep ca.key offline in real deployments).

    \b
    Example:
      vfl certs init certs
    """
    from vfl.transport.tls import init_ca

    click.echo(f"CA certificate: {init_ca(cert_dir)}")


@certs.command("issue")
@click.argument("cert_dir", type=click.Path(path_type=Path))
@click.argument("name")
@click.option("--host", "hosts", multiple=True, help="Extra DNS name or IP the party is reached at.")
@friendly_errors
def certs_issue(cert_dir, name, hosts):  # type: ignore[no-untyped-def]
    """Issue NAME's key (mode 0600) and certificate, signed by the CA in CERT_DIR.

    \b
    Example:
      vfl certs issue certs hospital --host hospital.example.org --host 10.0.0.12
    """
    from vfl.transport.tls import issue_party_cert

    files = issue_party_cert(cert_dir, name, list(hosts))
    click.echo(f"{name}: {files.cert} and {files.key}")


def main() -> None:
    cli(prog_name="vfl")
