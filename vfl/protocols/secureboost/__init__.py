"""SecureBoost: vertical gradient-boosted trees over HE-protected gradients (one role per module).

See protocols/specs/secureboost.md for the messages, their order and what each party learns.
"""

from vfl.protocols.secureboost.active import ActiveResult, predict_active, train_active
from vfl.protocols.secureboost.model import (
    Node,
    PassiveSplit,
    Tree,
    decode_number,
    encode_number,
)
from vfl.protocols.secureboost.passive import PassiveResult, serve_predict, train_passive
from vfl.protocols.secureboost.stages import SBTConfig, Topics

__all__ = [
    "ActiveResult",
    "Node",
    "PassiveResult",
    "PassiveSplit",
    "SBTConfig",
    "Topics",
    "Tree",
    "decode_number",
    "encode_number",
    "predict_active",
    "serve_predict",
    "train_active",
    "train_passive",
]
