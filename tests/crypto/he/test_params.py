"""Weak parameters are refused, and every backend's defaults sit above the floors."""

from __future__ import annotations

import pytest

from vfl.core.errors import ConfigError
from vfl.crypto.he import HEScheme, make_scheme
from vfl.crypto.he.params import CKKS_128_MAX_COEFF_BITS, MIN_PAILLIER_BITS, check_ckks

from .conftest import BACKENDS


@pytest.mark.parametrize("name", [b for b in BACKENDS if b != "ckks"])
def test_paillier_family_below_2048_bits_is_refused(name: str) -> None:
    with pytest.raises(ConfigError, match="below the 2048-bit floor"):
        make_scheme(name, key_bits=1024)


@pytest.mark.parametrize(
    ("n", "coeff"),
    [(8192, [60, 40, 40, 40, 60]), (4096, [40, 20, 40]), (16384, [60] * 8), (8192, [60, 10, 60])],
)
def test_ckks_outside_the_128_bit_table_is_refused(n: int, coeff: list[int]) -> None:
    with pytest.raises(ConfigError):
        make_scheme("ckks", poly_modulus_degree=n, coeff_mod_bit_sizes=coeff)


def test_every_configured_backend_meets_the_floors(keyholders: dict[str, HEScheme]) -> None:
    assert keyholders, "no HE backend is importable"
    for name, s in keyholders.items():
        if name == "ckks":
            n, coeff = s.poly_modulus_degree, s.coeff_mod_bit_sizes  # type: ignore[attr-defined]
            check_ckks(n, coeff)
            assert sum(coeff) <= CKKS_128_MAX_COEFF_BITS[n]
        else:
            assert s.key_bits >= MIN_PAILLIER_BITS  # type: ignore[attr-defined]


def test_unknown_scheme_and_params() -> None:
    with pytest.raises(ConfigError, match="unknown HE scheme"):
        make_scheme("rot13")
    with pytest.raises(ConfigError, match="does not take"):
        make_scheme("zpaillier", poly_modulus_degree=8192)


@pytest.mark.parametrize("name", [b for b in BACKENDS if b != "ckks"])
def test_paillier_family_above_4096_bits_is_refused(name: str) -> None:
    with pytest.raises(ConfigError, match="above the 4096-bit ceiling"):
        make_scheme(name, key_bits=8192)
