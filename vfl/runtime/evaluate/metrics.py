"""Evaluation figures reported by the label holder and by the centralised baselines."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, log_loss, roc_auc_score, roc_curve

__all__ = ["binary_metrics"]


def binary_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """AUC, KS, log-loss and accuracy at 0.5 for P(y=1) scores."""
    y = np.asarray(y).astype(int)
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-12, 1 - 1e-12)
    if len(np.unique(y)) < 2:
        return {
            "log_loss": float(log_loss(y, p, labels=[0, 1])),
            "accuracy": float(accuracy_score(y, p >= 0.5)),
        }
    fpr, tpr, _ = roc_curve(y, p)
    return {
        "auc": float(roc_auc_score(y, p)),
        "ks": float(np.max(tpr - fpr)),
        "log_loss": float(log_loss(y, p)),
        "accuracy": float(accuracy_score(y, p >= 0.5)),
    }
