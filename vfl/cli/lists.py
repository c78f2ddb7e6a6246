"""Comma-separated option values (``--he zpaillier,ou``, ``--rows 1e6,1e7``), parsed one way
by every benchmark command, with errors that show a valid example."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from vfl.core.errors import ConfigError

__all__ = ["name_list", "number_list"]

T = TypeVar("T", int, float)


def name_list(text: str) -> list[str]:
    """``"a, b,,c"`` -> ``["a", "b", "c"]``."""
    return [s.strip() for s in text.split(",") if s.strip()]


def number_list(
    text: str,
    option: str,
    example: str,
    cast: Callable[[str], T],
    valid: Callable[[T], bool],
    rule: str,
) -> list[T]:
    """The numbers of ``text``; ConfigError naming ``option`` when one is not a number, none is
    given, or one breaks ``rule`` (checked by ``valid``)."""
    hint = f"e.g. {option} {example}"
    try:
        out = [cast(x) for x in name_list(text)]
    except ValueError as exc:
        raise ConfigError(f"{option} {text!r} is not a list of numbers", hint) from exc
    if not out or not all(valid(v) for v in out):
        raise ConfigError(f"{option} {text!r}: {rule}", hint)
    return out
