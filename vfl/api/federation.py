"""Who the peers are, for library use: ``Federation.from_config("parties/insurer.toml")``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vfl.data.table import PartyTable
from vfl.runtime.job.run import PartyOutcome
from vfl.runtime.job.spec import JobSpec
from vfl.runtime.job.jobfile import PartyConfig, load_party_config
from vfl.runtime.modes.party import run_with_peers
from vfl.transport.grpc import GrpcSettings

__all__ = ["Federation"]


@dataclass(frozen=True)
class Federation:
    """This party's view of its federation: its name, address, certificates and its peers'
    addresses. The peers run ``vfl serve`` (or ``vfl run`` with the same job)."""

    config: PartyConfig
    settings: GrpcSettings = field(default_factory=GrpcSettings)

    @classmethod
    def from_config(cls, path: str | Path, **settings: Any) -> Federation:
        return cls(load_party_config(path), GrpcSettings(**settings))

    @property
    def me(self) -> str:
        return self.config.name

    @property
    def peers(self) -> list[str]:
        return list(self.config.peers)

    def run(self, spec: JobSpec, table: PartyTable, **job_options: Any) -> PartyOutcome:
        return run_with_peers(self.config, spec, table, settings=self.settings, **job_options)
