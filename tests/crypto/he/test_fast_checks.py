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


def _heu_bytes(mags: list[bytes], tag: int) -> bytes:
    """heu's (m, 1) array layout around the given little-endian magnitudes (str 16 heads, as
    heu writes them; a magnitude below 256 bytes gets a str 8 head)."""

    def head(n: int) -> bytes:
        return bytes([0xD9, n]) if n < 256 else bytes([0xDA]) + n.to_bytes(2, "big")

    m = len(mags)
    out = bytearray([0x94, 0xCD]) + m.to_bytes(2, "big") + bytes([0x01, 0x02, 0xDC]) + m.to_bytes(2, "big")
    for mag in mags:
        item = bytes([0x91]) + head(len(mag)) + mag + tag.to_bytes(8, "little")
        out += head(len(item)) + item
    return bytes(out)


def _strict(data: bytes, tag: int, modulus: int) -> tuple[int, bool] | str:
    try:
        ints, rows, _ = parse_heu_array(data, tag)
    except WireError:
        return "refused"
    return rows, all(0 < c < modulus for c in ints)


@pytest.mark.parametrize("name", ["zpaillier", "ou"])
def test_vectorised_range_check_agrees_with_the_strict_reader(
    name: str, keyholders: dict[str, HEScheme]
) -> None:
    """Whatever it decides (in range, or not) the strict reader decides too, on heu's own arrays
    and on hand-made ones at every edge: 0, 1, modulus - 1, modulus, a value whose top 8 bytes
    tie with the modulus', heu's 0 byte above a top bit, a non-zero byte there, a tag inside a
    magnitude, a cut or altered head; where it cannot decide it says None."""
    from vfl.crypto.he.sfheu import heu_array_in_range

    ops = keyholders[name]._ops  # type: ignore[attr-defined]
    mod, tag = ops.ct_modulus, ops.schema_index
    width = (mod.bit_length() + 7) // 8
    real = bytes(keyholders[name].encrypt(np.linspace(-3, 3, 300)).handle.serialize())  # type: ignore[attr-defined]
    assert heu_array_in_range(real, tag, mod) == _strict(real, tag, mod) == (300, True)

    def le(v: int, n: int | None = None) -> bytes:
        return v.to_bytes(n or max((v.bit_length() + 7) // 8, 1), "little")

    ok = [le(int(x)) for x in np.random.default_rng(1).integers(2, 2**62, size=5)]
    tie = (mod >> (8 * (width - 8))) << (8 * (width - 8))  # top 8 bytes equal to the modulus'
    cases = {
        "small": ok,
        "one": [le(1), *ok],
        "zero": [le(0, 8), *ok],
        "mod-1": [*ok, le(mod - 1)],
        "mod": [*ok, le(mod)],
        "tie below": [le(tie + 0x0203), *ok],  # no run of 0 bytes to look like a tag
        "tie above": [le(mod + 1) if (mod + 1).bit_length() == mod.bit_length() else le(mod), *ok],
        "0 above top bit": [le(mod - 1) + b"\x00", *ok],
        "1 above top bit": [le(mod - 1) + b"\x01", *ok],
        "wide": [le(1, width + 2), *ok],
        "tag inside": [le(tag, 8) + le(tag, 8) + le(5, width - 40), *ok],
    }
    for what, mags in cases.items():
        data = _heu_bytes(mags, tag)
        quick = heu_array_in_range(data, tag, mod)
        assert quick is None or quick == _strict(data, tag, mod), what
        for bad in (data[:-1], data[:9] + b"\x00" + data[10:], data + b"\x00"):
            q = heu_array_in_range(bad, tag, mod)
            assert q is None or q == _strict(bad, tag, mod), what
    decided = {w: heu_array_in_range(_heu_bytes(m, tag), tag, mod) for w, m in cases.items()}
    assert decided["small"] == (5, True) and decided["mod-1"] == decided["tie below"] == (6, True)
    assert decided["zero"] == decided["mod"] == decided["tie above"] == (6, False)
    assert decided["0 above top bit"] == (6, True) and decided["1 above top bit"] == (6, False)
    assert decided["tag inside"] is None and decided["wide"] is None  # left to the strict reader
