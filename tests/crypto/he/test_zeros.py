"""Encryptions of zero made ahead (``prepare_zeros``, vfl/crypto/he/zeros.py): an encryption of
that length uses one (once), decrypts to the same values, and is as fresh as any other; unused
ones are dropped. sf-heu's come from a child process at idle priority, which the taker never
waits for; phe's from a thread."""

from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np
import pytest

from tests.crypto.he.conftest import JOB
from vfl.crypto.he import HEScheme, make_scheme
from vfl.crypto.he.zeros import CHILD_MIN_VALUES, ChildZeros


def _ready(scheme: HEScheme, k: int, timeout: float = 60.0) -> None:
    """Wait until every [[0]] of length k asked for so far has arrived (the child runs only on
    spare CPU: under a loaded test run that takes a moment)."""
    deadline = time.monotonic() + timeout
    while not all(f.done() for f in scheme._zeros.get(k, ())):  # type: ignore[attr-defined]
        assert time.monotonic() < deadline, "the zero-making child never answered"
        time.sleep(0.02)


def _child(scheme: HEScheme) -> ChildZeros:
    maker = scheme._zero_maker  # type: ignore[attr-defined]
    assert isinstance(maker, ChildZeros)
    return maker


@pytest.mark.parametrize("name", ["paillier", "ou", "zpaillier"])
def test_prepared_zeros_make_fresh_encryptions_of_the_same_values(
    name: str, keyholders: dict[str, HEScheme]
) -> None:
    scheme = make_scheme(name) if name != "paillier" else keyholders[name]
    n = 12 if name == "paillier" else 50
    g, h = np.linspace(-1, 1, n), np.linspace(0, 0.25, n)
    scheme.start_zeros_apart(CHILD_MIN_VALUES)  # as a job does when its keys are ready
    assert isinstance(scheme._zero_maker, ChildZeros) == (name != "paillier")  # type: ignore[attr-defined]
    scheme.prepare_zeros([n, n, 7])
    _ready(scheme, n)
    _ready(scheme, 7)
    pending = scheme._zeros[n]  # type: ignore[attr-defined]
    assert len(pending) == 2
    a = scheme.encrypt_gh(g, h)
    b = scheme.encrypt_gh(g, h)
    assert len(pending) == 0  # each [[0]] used once: the next encryption of n makes its own
    for enc in (a, b):
        assert np.allclose(scheme.decrypt(enc), np.stack([g, h], axis=1), atol=1e-9)
    wire_a, wire_b = (scheme.serialize(x, JOB).SerializeToString() for x in (a, b))
    assert wire_a != wire_b  # different randomisers: nothing links the two vectors
    real = scheme.encrypt(np.arange(7.0))  # the length-7 zero serves a plain vector too
    assert np.allclose(scheme.decrypt(real), np.arange(7.0))
    assert scheme._zeros[7] == type(pending)()  # type: ignore[attr-defined]
    assert len(scheme.zero_spans) >= 3 and all(0 <= z.cpu and z.start <= z.end for z in scheme.zero_spans)
    scheme.prepare_zeros([n])
    scheme.discard_zeros()
    assert scheme._zeros == {}  # type: ignore[attr-defined]
    c = scheme.encrypt_gh(g, h)  # and encryption works on without them
    assert np.allclose(scheme.decrypt(c), np.stack([g, h], axis=1), atol=1e-9)


def test_a_batch_too_small_for_a_child_is_encrypted_in_full() -> None:
    scheme = make_scheme("ou")
    scheme.start_zeros_apart(CHILD_MIN_VALUES - 1)
    scheme.prepare_zeros([50, 50])
    assert scheme._zero_maker is None and scheme._zeros == {}  # type: ignore[attr-defined]
    assert np.allclose(scheme.decrypt(scheme.encrypt(np.arange(50.0))), np.arange(50.0))
    scheme.prepare_zeros([CHILD_MIN_VALUES])  # one large enough starts it
    child = _child(scheme)
    scheme.discard_zeros()
    _gone(child)


def _gone(child: ChildZeros, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while child._proc.poll() is None:
        assert time.monotonic() < deadline, "the zero-making child outlived discard_zeros"
        time.sleep(0.02)


def test_the_taker_never_waits_for_a_child_that_does_not_answer() -> None:
    """A stopped child (as one starved of CPU would look): encryptions are made in full here,
    at once; discard_zeros still ends it."""
    scheme = make_scheme("ou")
    scheme.start_zeros_apart(CHILD_MIN_VALUES)
    child = _child(scheme)
    os.kill(child._proc.pid, signal.SIGSTOP)
    scheme.prepare_zeros([40])
    out: list[np.ndarray] = []
    t = threading.Thread(target=lambda: out.append(scheme.decrypt(scheme.encrypt(np.arange(40.0)))))
    t.start()
    t.join(timeout=60)
    assert not t.is_alive() and np.allclose(out[0], np.arange(40.0))
    assert len(scheme._zeros[40]) == 1  # type: ignore[attr-defined]  # left for a later one
    scheme.discard_zeros()
    _gone(child)


def test_a_child_that_died_leaves_full_encryptions() -> None:
    scheme = make_scheme("ou")
    scheme.start_zeros_apart(CHILD_MIN_VALUES)
    child = _child(scheme)
    child._proc.kill()
    child._proc.wait()
    scheme.prepare_zeros([30, 30])
    deadline = time.monotonic() + 30
    while not all(f.done() for f in scheme._zeros.get(30, ())):  # type: ignore[attr-defined]
        assert time.monotonic() < deadline
        time.sleep(0.02)
    for _ in range(2):  # the failed [[0]]s are taken and the values encrypted in full
        assert np.allclose(scheme.decrypt(scheme.encrypt(np.arange(30.0))), np.arange(30.0))
    scheme.discard_zeros()


def test_a_public_only_scheme_prepares_zeros_too(keyholders: dict[str, HEScheme]) -> None:
    """Encryption needs only the public key: a passive (rerandomising) may use the pool too."""
    from vfl.crypto.he import scheme_from_public_context

    pub = scheme_from_public_context(keyholders["ou"].public_context(), JOB)
    pub.start_zeros_apart(CHILD_MIN_VALUES)
    pub.prepare_zeros([5])
    _ready(pub, 5)
    enc = pub.encrypt(np.arange(5.0))
    assert np.allclose(keyholders["ou"].decrypt(enc), np.arange(5.0))
    assert pub._zeros[5] == type(pub._zeros[5])()  # type: ignore[attr-defined]
    pub.discard_zeros()
