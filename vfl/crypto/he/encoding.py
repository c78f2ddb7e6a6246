"""Fixed-point encoding of reals into integers, and packing several signed integers into one
Paillier plaintext, with bounds that RAISE (CryptoError) instead of wrapping modulo n.

Fixed point: a real x travels as round(x * 2^scale_bits). Its absolute rounding error is at most
2^-(scale_bits+1); a sum of m encoded terms is off by at most m * 2^-(scale_bits+1), and a product
with a plaintext encoded at the same scale carries scale 2*scale_bits.

Bound tracking: every encrypted vector carries ``bound_bits`` with |encoded value| < 2^bound_bits.
Adding two vectors gives max(bits)+1, multiplying by a plaintext adds that plaintext's bits,
summing m values adds ceil(log2 m). A Paillier plaintext decrypts to (-n/2, n/2), so an operation
whose bound would reach ``capacity_bits`` (= key bits - 2) raises before it runs.

Packing (signed digits, no offsets): k signed integers v_0..v_{k-1}, each |v_i| < 2^(S-1), are
packed as P = sum_i v_i * 2^(i*S). Packing is linear, so adding packed plaintexts adds slot-wise,
and P is recovered exactly by peeling the *centred* remainder: v_0 = ((P + 2^(S-1)) mod 2^S) -
2^(S-1), P <- (P - v_0) / 2^S, and so on. Slot width for values that will be summed:

    S = value_bits + ceil(log2(max_terms + 1)) + 1 (sign) + 1 (one difference of two sums)

where value_bits bounds one encoded term (|term| < 2^value_bits) and max_terms is the number of
terms a slot may accumulate (the rows of the dataset, for a histogram bin). The extra bit lets
``parent - child`` (histogram subtraction) stay in range. k slots fit when k*S <= capacity_bits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vfl.core.errors import CryptoError

__all__ = [
    "MAX_SLOT_BITS",
    "FixedPoint",
    "SlotPacking",
    "bits_of",
    "ceil_div",
    "check_capacity",
    "gh_slot_bits",
    "log2_ceil",
    "max_slots",
]


MAX_SLOT_BITS = 8192  # wider than any plaintext of a 4096-bit key


def log2_ceil(m: int) -> int:
    """ceil(log2(m)) for m >= 1 (0 for m == 1): the growth in bits of a sum of m terms."""
    return max(int(m) - 1, 0).bit_length()


def bits_of(ints: np.ndarray | list[int]) -> int:
    """Smallest b with |v| < 2^b for every v (0 for an empty or all-zero input)."""
    vals = ints.tolist() if isinstance(ints, np.ndarray) else ints
    if not len(vals):
        return 0
    return max(abs(int(max(vals))), abs(int(min(vals)))).bit_length()  # min/max loop in C


def check_capacity(bound_bits: int, capacity_bits: int, what: str) -> None:
    """Refuse an operation whose result could exceed the plaintext space (it would wrap)."""
    if bound_bits > capacity_bits:
        raise CryptoError(
            f"{what} could reach 2^{bound_bits}, beyond the 2^{capacity_bits} plaintext space; "
            "the result would wrap around silently",
            "lower scale_bits, clip or standardise the inputs, or use a larger key",
        )


def gh_slot_bits(value_bits: int, max_terms: int) -> int:
    """Slot width S for packed sums of up to ``max_terms`` values below 2^value_bits (see module)."""
    return value_bits + log2_ceil(max_terms + 1) + 2


@dataclass(frozen=True)
class FixedPoint:
    """x -> round(x * 2^scale_bits) as Python ints (exact, any size), and back."""

    scale_bits: int

    def __post_init__(self) -> None:
        if not 0 <= self.scale_bits <= 200:
            raise CryptoError(f"scale_bits={self.scale_bits} is outside 0..200", "use e.g. 40")

    def encode(self, values: np.ndarray, *, max_bits: int | None = None) -> list[int]:
        """Encode reals; raise on NaN/inf, or when a value needs more than ``max_bits`` bits."""
        v = np.asarray(values, dtype=np.float64).ravel()
        if not np.all(np.isfinite(v)):
            raise CryptoError(
                f"{int(np.sum(~np.isfinite(v)))} value(s) to encrypt are NaN or infinite",
                "check the inputs (missing values, a diverging model) before encrypting",
            )
        scaled = np.rint(np.ldexp(v, self.scale_bits))
        top = float(np.max(np.abs(scaled))) if scaled.size else 0.0
        if max_bits is not None and max_bits < 1000 and top >= 2.0**max_bits:
            raise CryptoError(
                f"a value of magnitude {float(np.max(np.abs(v))):.4g} needs more than {max_bits} "
                f"bits at scale 2^{self.scale_bits}",
                "clip or standardise the inputs, or lower scale_bits",
            )
        if top < 2.0**62:
            return scaled.astype(np.int64).tolist()
        return [int(x) for x in scaled]

    def decode(self, ints: list[int], scale_bits: int | None = None) -> np.ndarray:
        """Decode ints carrying ``scale_bits`` (default: this encoder's); exact int division."""
        s = self.scale_bits if scale_bits is None else scale_bits
        if all(abs(x) < (1 << 62) for x in ints):
            return np.ldexp(np.asarray(ints, dtype=np.int64).astype(np.float64), -s)
        d = 1 << s
        return np.asarray([x / d for x in ints], dtype=np.float64)


@dataclass(frozen=True)
class SlotPacking:
    """k signed slots of ``slot_bits`` each inside one integer (signed-digit packing, see module)."""

    slot_bits: int
    slots: int

    def __post_init__(self) -> None:
        # slot_bits comes from a peer's message: 0 made unpack shift by -1 (ValueError)
        if not (2 <= self.slot_bits <= MAX_SLOT_BITS and 1 <= self.slots <= MAX_SLOT_BITS):
            raise CryptoError(
                f"{self.slots} packed slots of {self.slot_bits} bits are outside the usable range "
                f"(2..{MAX_SLOT_BITS} bits)",
                "the sender is misconfigured or hostile; refuse the round",
            )

    @property
    def total_bits(self) -> int:
        return self.slot_bits * self.slots

    def pack(self, columns: list[list[int]]) -> list[int]:
        """columns[i][r] is slot i of packed value r; returns one packed integer per r."""
        if len(columns) != self.slots:
            raise CryptoError(f"expected {self.slots} slot columns, got {len(columns)}")
        s = self.slot_bits
        for col in columns:
            if bits_of(col) >= s:  # |x| >= 2^(S-1)
                raise CryptoError(
                    f"a value does not fit a {s}-bit signed slot",
                    "widen the slots (fewer per ciphertext) or lower scale_bits",
                )
        out = [int(x) for x in columns[-1]]  # Horner over the columns, one list pass each
        for col in reversed(columns[:-1]):
            out = [(p << s) + int(x) for p, x in zip(out, col, strict=True)]
        return out

    def unpack(self, packed: list[int]) -> list[list[int]]:
        """Inverse of pack: returns ``slots`` columns. Exact while every slot stays in range."""
        s, half = self.slot_bits, 1 << (self.slot_bits - 1)
        mask = (1 << s) - 1
        cols: list[list[int]] = [[] for _ in range(self.slots)]
        for p in packed:
            for i in range(self.slots):
                v = ((p + half) & mask) - half
                cols[i].append(v)
                p = (p - v) >> s
            if p != 0:
                raise CryptoError(
                    "a packed plaintext has bits above its last slot: it overflowed or was tampered",
                    "re-run with wider slots; if it persists, distrust the sender",
                )
        return cols


def max_slots(slot_bits: int, capacity_bits: int) -> int:
    """How many slots of ``slot_bits`` fit below the plaintext capacity."""
    k = capacity_bits // slot_bits
    if k < 1:
        raise CryptoError(
            f"a {slot_bits}-bit slot does not fit in a {capacity_bits}-bit plaintext",
            "lower scale_bits or use a larger key",
        )
    return k


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)
