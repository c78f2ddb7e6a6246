"""Keys made ahead (vfl/crypto/he/keygen.py): a child's key pair works, is handed out once, and
the child's answer is bounded before it is read."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest

from vfl.core.errors import ConfigError, CryptoError
from vfl.crypto.he import scheme_from_public_context
from vfl.crypto.he.keygen import read_key_pair, start_keygen, write_key_pair

pytestmark = pytest.mark.fresh_keys  # these tests are about making keys


@pytest.mark.parametrize("name", ["ou", "ckks"])
def test_keys_made_ahead_encrypt_decrypt_and_open_at_a_peer(name: str) -> None:
    pending = start_keygen(name)
    scheme = pending.result(timeout=120)
    assert scheme.has_secret_key and pending.ready
    peer = scheme_from_public_context(scheme.public_context(), "job-k")
    v = np.array([1.25, -3.5, 0.0])
    np.testing.assert_allclose(scheme.decrypt(peer.add_plain(scheme.encrypt(v), v)), 2 * v, atol=1e-6)
    with pytest.raises(CryptoError, match="already handed"):
        pending.result()


def test_keys_for_a_large_boosting_job_come_with_their_zero_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """SecureBoost's label holder (run.py: ``zeros_for`` its rows) gets its [[0]] child started
    with the keys, during PSI; a small job, or a model without [[0]]s ahead, starts none."""
    from tests.keypairs import shared_key_pair
    from vfl.crypto.he import keygen
    from vfl.crypto.he.zeros import CHILD_MIN_VALUES, ChildZeros

    monkeypatch.setattr(keygen, "_child_key_pair", shared_key_pair)  # the zeros are what is tested

    big = start_keygen("ou", zeros_for=CHILD_MIN_VALUES).result(timeout=120)
    child = big._zero_maker  # type: ignore[attr-defined]
    assert isinstance(child, ChildZeros) and child._proc.poll() is None
    big.discard_zeros()
    child._proc.wait(timeout=30)
    for rows in (CHILD_MIN_VALUES - 1, 0):
        assert start_keygen("ou", zeros_for=rows).result(timeout=120)._zero_maker is None  # type: ignore[attr-defined]


def test_bad_parameters_fail_before_anything_starts() -> None:
    with pytest.raises(ConfigError):
        start_keygen("ou", key_bits=1024)
    with pytest.raises(ConfigError):
        start_keygen("rsa")


def test_the_childs_answer_is_bounded() -> None:
    buf = io.BytesIO()
    write_key_pair(buf, b"pk", b"secret")
    assert read_key_pair(buf.getvalue()) == (b"pk", b"secret")
    good = buf.getvalue()
    for bad in (b"", b"nope" + good[5:], good[:-1], good + b"x", good[:5] + struct.pack(">I", 1 << 30)):
        with pytest.raises(CryptoError):
            read_key_pair(bad)
