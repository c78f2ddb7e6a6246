"""Vertical logistic regression with HE gradient exchange, one module per role
(protocols/specs/lr.md): ``active`` holds the label and the key, ``passive`` holds features.
The same protocol trains the linear family (``family.py``, protocols/specs/glm.md)."""

from vfl.protocols.lr.active import predict_active, train_active
from vfl.protocols.lr.family import GLM_OBJECTIVES, Family
from vfl.protocols.lr.glm_params import GLMParams
from vfl.protocols.lr.local import Standardiser
from vfl.protocols.lr.params import LRParams, PartFit, part_fingerprint
from vfl.protocols.lr.passive import predict_passive, train_passive

__all__ = [
    "GLM_OBJECTIVES",
    "Family",
    "GLMParams",
    "LRParams",
    "PartFit",
    "Standardiser",
    "part_fingerprint",
    "predict_active",
    "predict_passive",
    "train_active",
    "train_passive",
]
