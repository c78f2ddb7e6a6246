"""Route rows down a tree from per-split routing bits, whoever computed those bits.

At inference each party evaluates only its own splits; the active party stacks everyone's
bits into ``go_left`` and walks the tree here without seeing a passive party's threshold.
"""

from __future__ import annotations

from typing import Any

from array_api_compat import device as _dev

__all__ = ["route_rows"]


def route_rows(xp: Any, go_left: Any, slot: Any, left: Any, right: Any, depth: int) -> Any:
    """Leaf node id of every row.

    ``go_left`` is (S, n) bool, one row per internal node's split; ``slot[m]`` is node m's row
    in it (-1 at leaves); ``left``/``right`` are child ids (-1 at leaves); nodes start at 0.
    """
    n = go_left.shape[1]
    flat = xp.reshape(go_left, (-1,))
    arange = xp.arange(n, dtype=xp.int64, device=_dev(go_left))
    pos = xp.zeros(n, dtype=xp.int64, device=_dev(go_left))
    for _ in range(depth):
        s = xp.take(slot, pos)
        internal = s >= 0
        if not bool(xp.any(internal)):
            break
        bit = xp.take(flat, xp.where(internal, s, 0) * n + arange) if flat.shape[0] else internal
        nxt = xp.where(bit, xp.take(left, pos), xp.take(right, pos))
        pos = xp.where(internal, nxt, pos)
    return pos
