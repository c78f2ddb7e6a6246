"""Homomorphic encryption behind one interface (``HEScheme``): make a scheme by name on the key
holder, rebuild a public-only one from its public context on every other party.

Backends: "ckks" (tenseal; packed vectors, best for LR), "zpaillier" and "ou" (sf-heu; batched
C++, best for SecureBoost), "paillier" (python-paillier; the slow reference, optional GPL extra).
"""

from __future__ import annotations

from typing import Any

from vfl.core.errors import ConfigError, WireError
from vfl.crypto.he.base import CipherVector, EncryptedHistogram, HEScheme

__all__ = [
    "BACKENDS",
    "CipherVector",
    "EncryptedHistogram",
    "HEScheme",
    "available_backends",
    "make_scheme",
    "scheme_from_public_context",
]

BACKENDS = ("ckks", "zpaillier", "ou", "paillier")


def _cls(name: str) -> Any:
    if name == "ckks":
        from vfl.crypto.he.ckks import CkksScheme

        return CkksScheme
    if name == "paillier":
        from vfl.crypto.he.paillier import PaillierScheme

        return PaillierScheme
    if name == "zpaillier":
        from vfl.crypto.he.sfheu import ZPaillierScheme

        return ZPaillierScheme
    if name == "ou":
        from vfl.crypto.he.sfheu import OUScheme

        return OUScheme
    raise ConfigError(f"unknown HE scheme {name!r}", f"choose one of {', '.join(BACKENDS)}")


def make_scheme(name: str, **params: Any) -> HEScheme:
    """Generate keys for ``name``. Params: key_bits (Paillier family, default 2048), scale_bits,
    poly_modulus_degree and coeff_mod_bit_sizes (CKKS). Weak parameters raise ConfigError."""
    cls = _cls(name)
    allowed = (
        {"poly_modulus_degree", "coeff_mod_bit_sizes", "scale_bits"}
        if name == "ckks"
        else {"key_bits", "scale_bits"} | ({"workers"} if name == "paillier" else set())
    )
    unknown = set(params) - allowed
    if unknown:
        raise ConfigError(f"{name} does not take {sorted(unknown)}", f"use {sorted(allowed)}")
    scheme: HEScheme = cls.generate(**params)
    return scheme


def scheme_from_public_context(msg: Any, job_id: str) -> HEScheme:
    """A public-only scheme (encrypt and compute, never decrypt) from a peer's PublicContext."""
    name = getattr(msg, "scheme", None)
    if name not in BACKENDS:
        raise WireError(f"public context names an unknown HE scheme {name!r}")
    scheme: HEScheme = _cls(name).from_public_context(msg, job_id)
    return scheme


def available_backends() -> list[str]:
    """Backends whose library is importable here (phe is an optional extra)."""
    out = []
    for name, mod in (("ckks", "tenseal"), ("zpaillier", "heu"), ("ou", "heu"), ("paillier", "phe")):
        try:
            __import__(mod)
        except ImportError:
            continue
        out.append(name)
    return out
