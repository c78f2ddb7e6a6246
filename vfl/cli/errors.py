"""Turn VflError into a short message (cause, then next step) and an exit code, no traceback
unless --debug."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from vfl.core.errors import VflError

__all__ = ["friendly_errors"]

F = TypeVar("F", bound=Callable[..., Any])


def friendly_errors(fn: F) -> F:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except VflError as exc:
            ctx = click.get_current_context(silent=True)
            if ctx is not None and (ctx.find_root().params or {}).get("debug"):
                raise
            click.echo(f"error: {exc.cause}", err=True)
            if exc.hint:
                click.echo(f"  next step: {exc.hint}", err=True)
            sys.exit(exc.exit_code)

    return wrapper  # type: ignore[return-value]
