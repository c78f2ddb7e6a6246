"""Commands loaded when they run: ``vfl --help`` and ``vfl simulate`` need no benchmark, report or
gRPC code. Each lazy command is named by ``"module:attribute"`` (click's documented LazyGroup)."""

from __future__ import annotations

import importlib
from typing import Any

import click

__all__ = ["LazyGroup"]


class LazyGroup(click.Group):
    def __init__(self, *args: Any, lazy_subcommands: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_subcommands = dict(lazy_subcommands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.lazy_subcommands])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        ref = self.lazy_subcommands.get(cmd_name)
        if ref is None:
            return super().get_command(ctx, cmd_name)
        module, _, attr = ref.partition(":")
        command = getattr(importlib.import_module(module), attr)
        if not isinstance(command, click.Command):
            raise TypeError(f"{ref} is not a click command")
        return command
