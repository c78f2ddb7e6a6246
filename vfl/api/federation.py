"""Who the peers are, for library use: ``Federation.from_config("parties/insurer.toml")``, or any
channel a caller supplies (transport injection, as httpx's ``Client(transport=...)``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vfl.data.table import PartyTable
from vfl.runtime.job.jobfile import PartyConfig, load_party_config
from vfl.runtime.job.run import PartyOutcome, run_party_job
from vfl.runtime.job.spec import JobSpec
from vfl.runtime.modes.party import run_with_peers
from vfl.transport.channel import Channel
from vfl.transport.grpc import GrpcSettings

__all__ = ["Federation"]


@dataclass(frozen=True)
class Federation:
    """This party's view of its federation: its name, its peers, and how to open this party's
    channel for one job. ``from_config`` gives gRPC with mutual TLS to peers that run
    ``vfl serve`` (or ``vfl run`` with the same job); ``Federation(me, peers, connect)`` takes any
    ``connect(spec) -> Channel`` (tests, an in-memory hub, a transport of your own)."""

    me: str
    peers: Sequence[str]
    connect: Callable[[JobSpec], Channel] | None = None
    config: PartyConfig | None = None
    settings: GrpcSettings | None = None

    @classmethod
    def from_config(cls, path: str | Path, **settings: Any) -> Federation:
        cfg = load_party_config(path)
        return cls(cfg.name, tuple(cfg.peers), config=cfg, settings=GrpcSettings(**settings))

    def run(self, spec: JobSpec, table: PartyTable, **job_options: Any) -> PartyOutcome:
        if self.connect is None:
            if self.config is None:
                raise TypeError("a Federation needs connect= or a party config (Federation.from_config)")
            return run_with_peers(self.config, spec, table, settings=self.settings, **job_options)
        channel = self.connect(spec)
        try:
            return run_party_job(spec, table, channel, **job_options)
        finally:
            close = getattr(channel, "close", None)
            if callable(close):
                close()
