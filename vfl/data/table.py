"""One party's validated data: IDs, a float feature matrix and, at the active party, the label."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["PartyTable"]


@dataclass
class PartyTable:
    """Rows in file order until :meth:`take` aligns them to the PSI order.

    ``ids`` is an object array of normalised ID strings; ``features`` is float64 (n, f) and may
    hold NaN only where the party asked for missing values to be kept (SecureBoost routes them);
    ``label`` is set only at the party that holds it.
    """

    name: str
    ids: np.ndarray
    features: np.ndarray
    feature_names: list[str]
    label: np.ndarray | None = None
    label_name: str | None = None
    source: str = ""
    meta: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.ids)
        assert self.features.shape == (n, len(self.feature_names)), "features/ids mismatch"
        assert self.label is None or len(self.label) == n, "label/ids mismatch"

    @property
    def n_rows(self) -> int:
        return len(self.ids)

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    @property
    def has_label(self) -> bool:
        return self.label is not None

    def take(self, rows: np.ndarray) -> PartyTable:
        """The same table restricted to ``rows`` in that order (used after PSI alignment)."""
        return PartyTable(
            name=self.name,
            ids=self.ids[rows],
            features=self.features[rows],
            feature_names=list(self.feature_names),
            label=None if self.label is None else self.label[rows],
            label_name=self.label_name,
            source=self.source,
            meta=dict(self.meta),
        )
