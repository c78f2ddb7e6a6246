"""Arrays on the wire as (dtype, shape, bytes): explicit, size-checked, never pickled.

Everything in an NDArray comes from a peer, so the reader bounds it before numpy sees it: the
dtype is on an allow-list, the shape has at most ``MAX_DIMS`` axes and each axis (and every
partial product, so a zero axis cannot hide a 2^63 one) stays within ``max_elements``, the byte
count equals elements times item size, and booleans are 0 or 1.
"""

from __future__ import annotations

import numpy as np

from vfl.core.errors import WireError
from vfl.wire.v1 import common_pb2

__all__ = [
    "ALLOWED_DTYPES",
    "MAX_DIMS",
    "MAX_ELEMENTS",
    "MAX_ITEM_WIDTH",
    "checked_shape",
    "from_ndarray",
    "pack_fixed",
    "to_ndarray",
    "unpack_fixed",
]

ALLOWED_DTYPES = frozenset({"<f8", "<f4", "<i8", "<i4", "<u8", "<u4", "|u1", "|i1", "|b1"})
MAX_ELEMENTS = 1 << 31
MAX_DIMS = 8
MAX_ITEM_WIDTH = 1 << 16  # fixed-width items: 32-byte points, 64-byte digests; never this wide


def to_ndarray(a: np.ndarray) -> common_pb2.NDArray:
    a = np.ascontiguousarray(a)
    dt = a.dtype.newbyteorder("<") if a.dtype.byteorder == ">" else a.dtype
    a = a.astype(dt, copy=False)
    if dt.str not in ALLOWED_DTYPES:
        raise WireError(f"dtype {dt.str} may not travel", f"use one of {sorted(ALLOWED_DTYPES)}")
    if a.ndim > MAX_DIMS:
        raise WireError(f"an array of {a.ndim} dimensions may not travel (limit {MAX_DIMS})")
    return common_pb2.NDArray(dtype=dt.str, shape=list(a.shape), data=a.tobytes())


def checked_shape(shape: list[int] | tuple[int, ...], max_elements: int) -> tuple[tuple[int, ...], int]:
    """(shape, element count) after bounding every axis and every partial product."""
    if len(shape) > MAX_DIMS:
        raise WireError(f"received an array of {len(shape)} dimensions, over the limit of {MAX_DIMS}")
    n = 1
    for s in shape:
        if not 0 <= s <= max_elements:
            raise WireError(f"received an array axis of length {s}, over the limit of {max_elements}")
        n *= max(int(s), 1)
        if n > max_elements:
            raise WireError(f"received an array of shape {list(shape)}, over {max_elements} elements")
    count = 0 if any(s == 0 for s in shape) else n
    return tuple(int(s) for s in shape), count


def from_ndarray(m: common_pb2.NDArray, *, max_elements: int = MAX_ELEMENTS) -> np.ndarray:
    if m.dtype not in ALLOWED_DTYPES:
        raise WireError(f"received an array of dtype {m.dtype[:20]!r}, which is not on the allow-list")
    shape, n = checked_shape(list(m.shape), max_elements)
    dt = np.dtype(m.dtype)
    if len(m.data) != n * dt.itemsize:
        raise WireError(
            f"array payload has {len(m.data)} bytes, expected {n * dt.itemsize} for shape {list(shape)}"
        )
    if dt.kind == "b" and m.data.translate(None, b"\x00\x01"):
        raise WireError("a boolean array carries bytes other than 0 and 1")
    return np.frombuffer(m.data, dtype=dt).reshape(shape).copy()


def pack_fixed(items: np.ndarray | bytes, width: int) -> common_pb2.FixedBytes:
    """Pack a (count, width) uint8 array, or already concatenated bytes, of fixed-width items."""
    if not 0 < width <= MAX_ITEM_WIDTH:
        raise WireError(f"fixed-width items of {width} bytes may not travel")
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
