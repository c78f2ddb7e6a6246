"""SHA-256 fingerprints of public keys and contexts, so a ciphertext names the key it was made under
and a receiver can refuse one made under any other key."""

from __future__ import annotations

import hashlib

__all__ = ["sha256_hex", "short"]


def sha256_hex(*parts: bytes) -> str:
    """Hex SHA-256 over length-prefixed parts (prefixing keeps ``(ab, c)`` and ``(a, bc)`` apart)."""
    h = hashlib.sha256()
    for p in parts:
        h.update(len(p).to_bytes(8, "big"))
        h.update(p)
    return h.hexdigest()


def short(fingerprint: str) -> str:
    """The first 12 hex digits, for error messages and logs."""
    return fingerprint[:12]
