"""One error family, each error carrying the next step for the person who reads it.

The CLI prints ``str(err)`` (cause, then a hint) without a traceback, so every message here is
written for a user, not a developer.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "CryptoError",
    "DataError",
    "PeerError",
    "ProtocolError",
    "VflError",
    "WireError",
]


class VflError(Exception):
    """Base class: ``cause`` says what happened, ``hint`` what to do next."""

    exit_code = 1

    def __init__(self, cause: str, hint: str = "") -> None:
        super().__init__(cause)
        self.cause = cause
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.cause}\n  -> {self.hint}" if self.hint else self.cause


class DataError(VflError, ValueError):
    """A party's input file is unusable (missing column, duplicate IDs, NaN, ...). A ValueError
    too, as scikit-learn and its users expect of bad input."""

    exit_code = 2


class ConfigError(VflError, ValueError):
    """A job or party configuration (or an estimator's parameter) is inconsistent; a ValueError."""

    exit_code = 2


class ProtocolError(VflError):
    """A peer sent something the protocol does not allow at this point."""

    exit_code = 3


class WireError(ProtocolError):
    """A message failed schema, size or binding checks (job id, topic, fingerprint)."""


class PeerError(VflError):
    """A peer is unreachable, died, or did not answer in time."""

    exit_code = 4


class CryptoError(VflError):
    """Key or ciphertext checks failed (wrong key, out of range, weak parameters)."""

    exit_code = 5
