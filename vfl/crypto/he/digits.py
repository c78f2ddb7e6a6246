"""``X^T [[d]]`` for the Paillier family with additions instead of scalar multiplications.

Why: a Paillier scalar multiplication [[d]]^x costs ~1.5 * bits(x) modular products (plus a
large fixed cost in heu), so the LR gradient X^T [[d]] done as n * k multiplications of ~45-bit
encodings was the passive's whole epoch. A ciphertext addition is one modular product. Write
every (offset, non-negative) encoded x as base-2^W digits, x = sum_p digit_p * 2^(W p), then

    sum_i x_ij [[d_i]] = sum_p 2^(W p) * sum_v v * S_{j,p,v},   S_{j,p,v} = sum_{i: digit_p(x_ij) = v} [[d_i]]

The S are one bucket sum (the SecureBoost histogram primitive, native in heu): one addition per
row per (feature, digit). sum_v v * S_v is 2 * 2^W additions by suffix sums, and the powers of
2^W are a Horner pass of small multiplications per feature. Signs: X' = X + 2^b >= 0 with
|X| < 2^b, and the passive subtracts 2^b * sum_i [[d_i]] at the end, so the offset never reaches
the key holder. Everything is exact integer arithmetic modulo the plaintext modulus: signed d_i
(represented mod n) are fine because the final value stays below the capacity the caller
checked (ring homomorphism Z -> Z_n).

Cost for n rows, k features and b-bit encodings: n * k * ceil((b + 1) / W) additions plus
k * ceil((b + 1) / W) * 2^(W + 1) additions, against n * k multiplications before.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from vfl.crypto.he.encoding import ceil_div

if TYPE_CHECKING:
    from vfl.crypto.he.integer import IntOps

__all__ = ["DIGIT_BITS", "MAX_DIGIT_INPUT_BITS", "digit_columns", "digit_matvec"]

DIGIT_BITS = 6  # 64 buckets per digit: heu's int8 bucket indices take it natively
MAX_DIGIT_INPUT_BITS = 61  # |x| < 2^61 so that x + 2^b fits an int64


def digit_columns(xi: np.ndarray, b: int, w: int = DIGIT_BITS) -> tuple[np.ndarray, int]:
    """Base-2^w digits of X + 2^b (non-negative), feature-major: column j * nd + p is digit p
    of feature j. Returns (digits (n, k * nd) int64, nd)."""
    n, k = xi.shape
    shifted = xi.astype(np.int64) + (np.int64(1) << np.int64(b))
    nd = max(ceil_div(b + 1, w), 1)
    mask = np.int64((1 << w) - 1)
    out = np.empty((n, k, nd), dtype=np.int64)
    for p in range(nd):
        out[:, :, p] = (shifted >> np.int64(w * p)) & mask
    return out.reshape(n, k * nd), nd


def digit_matvec(ops: IntOps, handle: Any, xi: np.ndarray, b: int, w: int = DIGIT_BITS) -> Any:
    """Handle of k ciphertexts sum_i xi[i, j] * [[d_i]]; xi is int64 with |xi| < 2^b <= 2^61."""
    n, k = xi.shape
    digits, nd = digit_columns(xi, b, w)
    base = 1 << w
    groups = k * nd
    sums = ops.bucket_sums(handle, np.arange(n), digits, base)  # (groups * base), group-major
    at = np.arange(groups) * base

    acc = ops.take(sums, at + base - 1)
    tot = acc
    for v in range(base - 2, 0, -1):  # tot = sum_v v * S_v via suffix sums
        acc = ops.add(acc, ops.take(sums, at + v))
        tot = ops.add(tot, acc)

    first = np.arange(k) * nd
    res = ops.take(tot, first + nd - 1)
    for p in range(nd - 2, -1, -1):  # Horner over the digits: res * 2^w + digit sum
        res = ops.add(ops.mul_plain(res, [base] * k), ops.take(tot, first + p))

    offset = ops.mul_plain(ops.sum(handle), [1 << b])  # 2^b * sum_i [[d_i]]
    return ops.sub(res, ops.take(offset, np.zeros(k, dtype=np.int64)))
