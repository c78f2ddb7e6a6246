"""The fast paths of the sf-heu receive checks agree with the slow ones: the batched
coprimality check with one gcd each, the item reader with the general msgpack reader; and heu
keeps quiet on stdout."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vfl.core.errors import WireError
from vfl.crypto.he import HEScheme
from vfl.crypto.he.sfheu import _all_coprime, _fast_array, _fast_magnitude, _read, parse_heu_array

N = 1009 * 2003  # two primes: a non-unit shares one of them


@pytest.mark.parametrize(
    "ints",
    [[5, 7, 11, 13], [1009 * 3, 5], [2, 2003 * 17], [N - 1, 1, 2], [1009 * 2003 * 4 + 1]],
)
def test_all_coprime_matches_gcd_each(ints: list[int]) -> None:
    assert _all_coprime(ints, N) == all(math.gcd(c, N) == 1 for c in ints)


@pytest.mark.parametrize("name", ["zpaillier", "ou"])
def test_fast_item_reader_agrees_with_general_reader(name: str, keyholders: dict[str, HEScheme]) -> None:
    if name not in keyholders:
        pytest.skip("sf-heu not installed")
    s = keyholders[name]
    ops = s._ops  # type: ignore[attr-defined]
    data = bytes(s.encrypt(np.array([0.0, -1.5, 2.0**20, 3.0])).handle.serialize())  # type: ignore[attr-defined]
    ints, rows, cols = parse_heu_array(data, ops.schema_index)
    top, _ = _read(data, 0)
    general = [int.from_bytes(_read(it, 0)[0][0], "little") for it in top[3]]
    assert (rows, cols) == (4, 1) and ints == general
    tail = int(ops.schema_index).to_bytes(8, "little")
    assert all(_fast_magnitude(it, tail) is not None for it in top[3])  # the fast item path ran
    assert _fast_array(data, tail) == (general, 4, 1)  # and the flat whole-array pass agrees
    assert _fast_array(data[:-1] + bytes([data[-1] ^ 1]), tail) is None  # leaves the rest to the strict one
    with pytest.raises(WireError, match="another scheme"):
        parse_heu_array(data[:-1] + bytes([data[-1] ^ 1]), ops.schema_index)  # altered tag
    with pytest.raises(WireError):
        parse_heu_array(data[:-3], ops.schema_index)  # truncated


def test_heu_prints_nothing_on_stdout() -> None:
    """heu's thread pool announces itself on stdout; a run's screen must not show it."""
    import subprocess
    import sys

    code = (
        "import numpy as np\nfrom vfl.crypto.he.sfheu import OUScheme\n"
        "s = OUScheme.generate(2048)\nprint(s.decrypt(s.encrypt(np.arange(4.0))).tolist())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout == "[0.0, 1.0, 2.0, 3.0]\n", out.stdout
