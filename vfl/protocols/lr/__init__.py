"""Vertical logistic regression with HE gradient exchange, one module per role
(protocols/specs/lr.md): ``active`` holds the label and the key, ``passive`` holds features."""

from vfl.protocols.lr.active import predict_active, train_active
from vfl.protocols.lr.local import Standardiser
from vfl.protocols.lr.params import LRParams, PartFit, part_fingerprint
from vfl.protocols.lr.passive import predict_passive, train_passive

__all__ = [
    "LRParams",
    "PartFit",
    "Standardiser",
    "part_fingerprint",
    "predict_active",
    "predict_passive",
    "train_active",
    "train_passive",
]
