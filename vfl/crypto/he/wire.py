"""Checks every HE message gets on receipt: scheme, key fingerprint, job id, sizes."""

from __future__ import annotations

from typing import Any

import numpy as np

from vfl.core.errors import CryptoError, WireError
from vfl.core.jobs import check_job_id
from vfl.crypto.fingerprints import short
from vfl.crypto.he.encoding import ceil_div

__all__ = ["MAX_CIPHERTEXTS", "MAX_SCALE_BITS", "bins_carried", "check_binding", "occupied_flags", "stamp"]

MAX_CIPHERTEXTS = 1 << 24
#: a product of two fixed-point values carries twice the 200-bit encoder limit at most
MAX_SCALE_BITS = 400


def stamp(msg: Any, scheme: str, fingerprint: str, job_id: str) -> Any:
    """Fill the binding fields of a CipherBatch / EncryptedHistogramMsg."""
    msg.scheme = scheme
    msg.key_fingerprint = fingerprint
    msg.job_id = check_job_id(job_id)
    return msg


def occupied_flags(data: bytes, total: int) -> np.ndarray:
    """A histogram's occupied-bin flags (``EncryptedHistogramMsg.occupied``) for its ``total``
    bins: exactly ceil(total / 8) bytes, no flag set past the last bin, at least one set."""
    if len(data) != ceil_div(total, 8):
        raise WireError(f"histogram's occupied-bin flags are {len(data)} bytes for {total} bins")
    flags = np.unpackbits(np.frombuffer(data, dtype=np.uint8)).astype(bool)
    if flags[total:].any() or not flags[:total].any():
        raise WireError("histogram's occupied-bin flags are malformed (none set, or set past the end)")
    return flags[:total]


def bins_carried(msg: Any) -> int:
    """How many of an EncryptedHistogramMsg's F x n_bins bins travel: those its ``occupied``
    flags set (integer schemes), every one without flags. The unit of a histogram's cost."""
    total = int(msg.n_features) * int(msg.n_bins)
    return int(occupied_flags(msg.occupied, total).sum()) if msg.occupied else total


def check_binding(msg: Any, scheme: str, fingerprint: str, job_id: str, what: str) -> None:
    """Refuse a message made under another scheme, another key, or for another job."""
    if msg.scheme != scheme:
        raise WireError(
            f"received a {what} for scheme {msg.scheme!r}, but this job uses {scheme!r}",
            "make every party use the same he setting in the job file",
        )
    if msg.job_id != job_id:
        raise WireError(
            f"received a {what} for job {msg.job_id!r} while running job {job_id!r}",
            "a stale or misrouted message; restart the job on all parties",
        )
    if msg.key_fingerprint != fingerprint:
        raise CryptoError(
            f"received a {what} encrypted under key {short(msg.key_fingerprint)!r}, "
            f"not this job's key {short(fingerprint)!r}",
            "the sender uses another public key: re-send the public context and restart",
        )
