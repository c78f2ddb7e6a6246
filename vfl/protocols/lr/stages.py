"""The LR protocol's shared vocabulary (as Flower's ``secaggplus_constants``): topics, control
words and fixed parameters. Every topic carries its round, so no message can stand in for another.
"""

from __future__ import annotations

__all__ = [
    "CONTINUE",
    "FRAC_BITS",
    "LBFGS_STEPS",
    "SCORE_CLEAR",
    "SCORE_MASKED",
    "STOP",
    "T_FINAL_PART",
    "T_FINAL_PARTS",
    "T_PREDICT_KEY",
    "T_PREDICT_SCORE",
    "T_PREDICT_SETUP",
    "T_RESUME_OFFER",
    "T_RESUME_START",
    "T_SETUP",
    "T_SETUP_HE",
    "T_SETUP_KEY",
    "t_control",
    "t_grad",
    "t_grad_plain",
    "t_lbfgs",
    "t_residual",
    "t_score",
    "t_val_score",
]

# -- words -------------------------------------------------------------------------------------
CONTINUE = "continue"
STOP = "stop"
SCORE_CLEAR = "clear"  # one passive: its scores travel unmasked (documented leakage)
SCORE_MASKED = "masked"  # two or more passives: pairwise masks, the active learns only the sum
FRAC_BITS = 32  # fixed-point fraction bits of masked scores in Z_2^64

# -- set-up and end ----------------------------------------------------------------------------
T_SETUP = "lr/setup"  # active -> passive: LRSetup
T_SETUP_HE = "lr/setup/he"  # active -> passive: HE public context (he.proto)
T_SETUP_KEY = "lr/setup/mask-key"  # passive <-> passive: MaskKey
T_RESUME_OFFER = "lr/resume/offer"  # passive -> active: LRResumeOffer (epochs it can resume from)
T_RESUME_START = "lr/resume/start"  # active -> passive: LRResumeStart (the epoch all restart from)
T_FINAL_PART = "lr/final/part"  # passive -> active: PartFingerprints {me: sha256}
T_FINAL_PARTS = "lr/final/parts"  # active -> passive: PartFingerprints of every party

# -- scoring (predict) -------------------------------------------------------------------------
T_PREDICT_SETUP = "lr/predict/setup"
T_PREDICT_KEY = "lr/predict/mask-key"
T_PREDICT_SCORE = "lr/predict/score"


# -- per batch / per epoch ---------------------------------------------------------------------
def _batch(epoch: int, batch: int) -> str:
    return f"lr/e{epoch}/b{batch}"


def t_score(epoch: int, batch: int) -> str:
    """passive -> active: ScoreShare of the batch."""
    return f"{_batch(epoch, batch)}/score"


def t_residual(epoch: int, batch: int) -> str:
    """active -> passive: [[d]] (he.proto)."""
    return f"{_batch(epoch, batch)}/residual"


def t_grad(epoch: int, batch: int) -> str:
    """passive -> active: [[X_p^T d + r]] (he.proto)."""
    return f"{_batch(epoch, batch)}/grad"


def t_grad_plain(epoch: int, batch: int) -> str:
    """active -> passive: MaskedGradient, the decryption of t_grad."""
    return f"{_batch(epoch, batch)}/grad-plain"


def t_val_score(epoch: int) -> str:
    """passive -> active: ScoreShare of the validation rows."""
    return f"lr/e{epoch}/val/score"


def t_control(epoch: int) -> str:
    """active -> passive: LRControl (continue / stop)."""
    return f"lr/e{epoch}/control"


# -- per L-BFGS iteration (protocols/specs/lr.md, "L-BFGS") ----------------------------------
#: the messages of one iteration, in order: [[d]], [[X_p^T d + r_p]], its decryption, the Gram
#: share, the direction coefficients, the direction's score share, the step
LBFGS_STEPS = ("residual", "grad", "grad-plain", "gram", "direction", "dscore", "step")


def t_lbfgs(iteration: int, what: str) -> str:
    """The topic of message ``what`` (one of :data:`LBFGS_STEPS`) of L-BFGS iteration t."""
    if what not in LBFGS_STEPS:
        raise ValueError(f"no L-BFGS message {what!r}")
    return f"lr/i{iteration}/{what}"
