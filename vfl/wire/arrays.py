"""Arrays on the wire as (dtype, shape, bytes): explicit, size-checked, never pickled."""

from __future__ import annotations

import math

import numpy as np

from vfl.core.errors import WireError
from vfl.wire.v1 import common_pb2

__all__ = ["ALLOWED_DTYPES", "MAX_ELEMENTS", "from_ndarray", "pack_fixed", "to_ndarray", "unpack_fixed"]

ALLOWED_DTYPES = frozenset({"<f8", "<f4", "<i8", "<i4", "<u8", "<u4", "|u1", "|i1", "|b1"})
MAX_ELEMENTS = 1 << 31


def to_ndarray(a: np.ndarray) -> common_pb2.NDArray:
    a = np.ascontiguousarray(a)
    dt = a.dtype.newbyteorder("<") if a.dtype.byteorder == ">" else a.dtype
    a = a.astype(dt, copy=False)
    if dt.str not in ALLOWED_DTYPES:
        raise WireError(f"dtype {dt.str} may not travel", f"use one of {sorted(ALLOWED_DTYPES)}")
    return common_pb2.NDArray(dtype=dt.str, shape=list(a.shape), data=a.tobytes())


def from_ndarray(m: common_pb2.NDArray, *, max_elements: int = MAX_ELEMENTS) -> np.ndarray:
    if m.dtype not in ALLOWED_DTYPES:
        raise WireError(f"received an array of dtype {m.dtype!r}, which is not on the allow-list")
    shape = tuple(int(s) for s in m.shape)
    n = math.prod(shape)
    if n > max_elements:
        raise WireError(f"received an array of {n} elements, over the limit of {max_elements}")
    dt = np.dtype(m.dtype)
    if len(m.data) != n * dt.itemsize:
        raise WireError(
            f"array payload has {len(m.data)} bytes, expected {n * dt.itemsize} for shape {shape}"
        )
    return np.frombuffer(m.data, dtype=dt).reshape(shape).copy()


def pack_fixed(items: np.ndarray | bytes, width: int) -> common_pb2.FixedBytes:
    """Pack a (count, width) uint8 array, or already concatenated bytes, of fixed-width items."""
    data = items.tobytes() if isinstance(items, np.ndarray) else bytes(items)
    if len(data) % width:
        raise WireError(f"{len(data)} bytes is not a whole number of {width}-byte items")
    return common_pb2.FixedBytes(width=width, count=len(data) // width, data=data)


def unpack_fixed(m: common_pb2.FixedBytes, width: int, *, max_count: int = MAX_ELEMENTS) -> np.ndarray:
    """Unpack into a (count, width) uint8 array, checking width and count."""
    if m.width != width:
        raise WireError(f"expected {width}-byte items, got {m.width}-byte items")
    if m.count > max_count or len(m.data) != m.count * width:
        raise WireError(f"item list claims {m.count} items but carries {len(m.data)} bytes")
    return np.frombuffer(m.data, dtype=np.uint8).reshape(int(m.count), width).copy()
