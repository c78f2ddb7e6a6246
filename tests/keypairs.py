"""One real OU/ZPaillier key pair per (scheme, key size) and process, for the tests and the long
fault run: keys come from a child process and take 0.5 to 4 s each (heu's prime search), which
no test that is not about key generation looks at."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from vfl.crypto.he import keygen

_make_key_pair = keygen._child_key_pair  # the real one, before anything replaces it
_KEY_PAIRS: dict[tuple[str, int], tuple[bytes, bytes]] = {}


def shared_key_pair(name: str, key_bits: int) -> tuple[bytes, bytes]:
    """Stands in for ``keygen._child_key_pair``: the first call makes the pair, later ones reuse it."""
    if (name, key_bits) not in _KEY_PAIRS:
        _KEY_PAIRS[(name, key_bits)] = _make_key_pair(name, key_bits)
    return _KEY_PAIRS[(name, key_bits)]


@contextmanager
def reused_key_pairs(*warm: tuple[str, int]) -> Iterator[None]:
    """Every job inside reuses the shared pairs; ``warm`` ones are made before the first job
    (so its first receives do not wait for a key generation)."""
    for name, bits in warm:
        shared_key_pair(name, bits)
    before = keygen._child_key_pair
    keygen._child_key_pair = shared_key_pair
    try:
        yield
    finally:
        keygen._child_key_pair = before
