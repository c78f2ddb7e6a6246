"""Encryptions of zero made ahead (``prepare_zeros``): an encryption of that length uses one
(once), decrypts to the same values, and is as fresh as any other; unused ones are dropped."""

from __future__ import annotations

import numpy as np
import pytest

from tests.crypto.he.conftest import JOB
from vfl.crypto.he import HEScheme, make_scheme


@pytest.mark.parametrize("name", ["ou", "zpaillier"])
def test_prepared_zeros_make_fresh_encryptions_of_the_same_values(name: str) -> None:
    scheme = make_scheme(name)
    g, h = np.linspace(-1, 1, 50), np.linspace(0, 0.25, 50)
    scheme.prepare_zeros([50, 50, 7])
    pending = scheme._zeros[50]  # type: ignore[attr-defined]
    assert len(pending) == 2
    a = scheme.encrypt_gh(g, h)
    b = scheme.encrypt_gh(g, h)
    assert len(pending) == 0  # each [[0]] used once: the next encryption of 50 makes its own
    for enc in (a, b):
        assert np.allclose(scheme.decrypt(enc), np.stack([g, h], axis=1), atol=1e-9)
    wire_a, wire_b = (scheme.serialize(x, JOB).packed for x in (a, b))
    assert wire_a != wire_b  # different randomisers: nothing links the two vectors
    real = scheme.encrypt(np.arange(7.0))  # the length-7 zero serves a plain vector too
    assert np.allclose(scheme.decrypt(real), np.arange(7.0))
    assert scheme._zeros[7] == type(pending)()  # type: ignore[attr-defined]
    scheme.prepare_zeros([50])
    scheme.discard_zeros()
    assert scheme._zeros == {}  # type: ignore[attr-defined]
    c = scheme.encrypt_gh(g, h)  # and encryption works on without them
    assert np.allclose(scheme.decrypt(c), np.stack([g, h], axis=1), atol=1e-9)


def test_a_public_only_scheme_prepares_zeros_too(keyholders: dict[str, HEScheme]) -> None:
    """Encryption needs only the public key: a passive (rerandomising) may use the pool too."""
    from vfl.crypto.he import scheme_from_public_context

    pub = scheme_from_public_context(keyholders["ou"].public_context(), JOB)
    pub.prepare_zeros([5])
    enc = pub.encrypt(np.arange(5.0))
    assert np.allclose(keyholders["ou"].decrypt(enc), np.arange(5.0))
