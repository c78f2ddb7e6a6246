"""Party names and roles, validated identically at every party."""

from __future__ import annotations

import re
from enum import StrEnum

from vfl.core.errors import ConfigError

__all__ = ["Role", "check_party_name", "check_party_names"]

_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


class Role(StrEnum):
    ACTIVE = "active"  # holds the label and the HE secret key
    PASSIVE = "passive"  # holds features only


def check_party_name(name: str) -> str:
    """A party name doubles as a certificate CN and a topic element, so keep it tame."""
    if not _NAME.match(name):
        raise ConfigError(
            f"party name {name!r} is not allowed",
            "use 1-32 lowercase letters, digits, '-' or '_', starting with a letter (e.g. 'insurer')",
        )
    return name


def check_party_names(names: list[str]) -> list[str]:
    for n in names:
        check_party_name(n)
    if len(set(names)) != len(names):
        raise ConfigError(f"party names repeat: {names}", "give every party a distinct name")
    if len(names) < 2:
        raise ConfigError(f"a federation needs at least two parties, got {names}", "add a party")
    return names
