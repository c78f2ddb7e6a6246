"""Each party's share of a trained SecureBoost model, in plain JSON-able form.

The active party holds the tree structure, the leaf values and its own splits; a passive split
appears there only as (owner, opaque split id). A passive party holds just its split table.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

__all__ = ["Node", "PassiveSplit", "Tree", "decode_number", "encode_number"]


def encode_number(x: float) -> float | str | None:
    """JSON has no NaN or infinity: NaN -> None, +-inf -> "inf"/"-inf"."""
    if math.isnan(x):
        return None
    return x if math.isfinite(x) else ("inf" if x > 0 else "-inf")


def decode_number(x: float | str | None) -> float:
    return math.nan if x is None else float(x)


@dataclass
class Node:
    id: int
    depth: int
    left: int = -1
    right: int = -1
    owner: str = ""  # party whose feature splits this node; "" at a leaf
    feature: int = -1  # the active's own splits only
    threshold: float = math.nan  # the active's own splits only
    default_left: bool = False  # the active's own splits only (a passive keeps its own)
    split_id: int = 0  # passive splits only: the passive's opaque id
    value: float = 0.0  # leaf value (already multiplied by the learning rate)
    gain: float = 0.0
    n_rows: int = 0

    @property
    def is_leaf(self) -> bool:
        return self.left < 0


@dataclass
class Tree:
    output: int  # class index for multi:softmax, else 0
    nodes: list[Node] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        nodes = []
        for n in self.nodes:
            d = asdict(n)
            d["threshold"] = encode_number(n.threshold)
            nodes.append(d)
        return {"output": self.output, "nodes": nodes}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Tree:
        nodes = []
        for nd in d["nodes"]:
            nd = dict(nd)
            nd["threshold"] = decode_number(nd.get("threshold"))
            nodes.append(Node(**nd))
        return cls(int(d["output"]), nodes)

    def depth(self) -> int:
        return max(n.depth for n in self.nodes)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(left, right, value) per node id, for vectorised routing."""
        left = np.array([n.left for n in self.nodes], dtype=np.int64)
        right = np.array([n.right for n in self.nodes], dtype=np.int64)
        value = np.array([n.value for n in self.nodes], dtype=np.float64)
        return left, right, value


@dataclass(frozen=True)
class PassiveSplit:
    """One private split rule (feature, threshold, default direction): a passive party keeps
    these in its split table and never sends them; the active uses it for its own splits."""

    feature: int
    threshold: float
    default_left: bool

    def go_left(self, column: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            return np.where(np.isnan(column), self.default_left, column <= self.threshold)
