"""Parameter floors: a backend configured below them refuses to start (ConfigError).

Paillier-family keys must be >= 2048 bits (NIST SP 800-57: ~112-bit security, the common floor
for new keys) and <= 4096 bits: a key is chosen by the key holder but computed with by every
peer, and one 16,384-bit key made four encryptions take 8 s, so a larger key is a denial of
service, not more security. CKKS parameters must sit inside the HomomorphicEncryption.org 128-bit table for
ternary secrets (the table SEAL enforces): total coefficient-modulus bits <= the limit for the
ring degree N; we also require N >= 8192 so that one ciphertext packs 4096 values.
"""

from __future__ import annotations

from vfl.core.errors import ConfigError, CryptoError

__all__ = [
    "CKKS_128_MAX_COEFF_BITS",
    "MAX_PAILLIER_BITS",
    "MAX_PUBLIC_KEY_BYTES",
    "MIN_PAILLIER_BITS",
    "check_ckks",
    "check_paillier_bits",
    "check_peer_paillier_bits",
]

MIN_PAILLIER_BITS = 2048
MAX_PAILLIER_BITS = 4096
MAX_PUBLIC_KEY_BYTES = 1 << 16  # a Paillier-family public key, before any library parses it

# HE standard (2018), 128-bit classical security, ternary secret: N -> max log2(q).
CKKS_128_MAX_COEFF_BITS = {8192: 218, 16384: 438, 32768: 881}


def _bits_problem(bits: int, scheme: str) -> str | None:
    if bits < MIN_PAILLIER_BITS:
        return f"{scheme} with {bits}-bit keys is below the {MIN_PAILLIER_BITS}-bit floor"
    if bits > MAX_PAILLIER_BITS:
        return f"{scheme} with {bits}-bit keys is above the {MAX_PAILLIER_BITS}-bit ceiling"
    return None


def check_paillier_bits(bits: int, scheme: str) -> int:
    """Our own key size (a ConfigError: the job's settings are wrong)."""
    problem = _bits_problem(int(bits), scheme)
    if problem:
        raise ConfigError(problem, f"use key_bits={MIN_PAILLIER_BITS} or 3072")
    return int(bits)


def check_peer_paillier_bits(bits: int, scheme: str) -> int:
    """A key a peer sent (a CryptoError: the peer, not our config, is wrong)."""
    problem = _bits_problem(int(bits), scheme)
    if problem:
        raise CryptoError(f"a peer's key: {problem}", "the key holder must use key_bits=2048 or 3072")
    return int(bits)


def check_ckks(poly_modulus_degree: int, coeff_mod_bit_sizes: list[int]) -> None:
    n, total = int(poly_modulus_degree), sum(int(b) for b in coeff_mod_bit_sizes)
    limit = CKKS_128_MAX_COEFF_BITS.get(n)
    if limit is None:
        raise ConfigError(
            f"CKKS ring degree N={n} is not one of {sorted(CKKS_128_MAX_COEFF_BITS)}",
            "use poly_modulus_degree=8192 (or 16384 when more depth is needed)",
        )
    if total > limit:
        raise ConfigError(
            f"CKKS with N={n} and a {total}-bit coefficient modulus is below 128-bit security "
            f"(limit {limit} bits)",
            "use coeff_mod_bit_sizes=[60, 40, 40, 60] with N=8192, or a larger N",
        )
    if len(coeff_mod_bit_sizes) < 3 or any(not 20 <= int(b) <= 60 for b in coeff_mod_bit_sizes):
        raise ConfigError(
            f"CKKS coefficient moduli {list(coeff_mod_bit_sizes)} are unusable",
            "give at least three primes of 20..60 bits, e.g. [60, 40, 40, 60]",
        )
