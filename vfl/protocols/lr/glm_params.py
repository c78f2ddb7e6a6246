"""Parameters of a ``glm`` job: LR's (the same protocol, solver and convergence rule) plus the
objective that picks the family (:mod:`vfl.protocols.lr.family`)."""

from __future__ import annotations

from dataclasses import dataclass

from vfl.core.errors import ConfigError
from vfl.protocols.lr.family import Family
from vfl.protocols.lr.params import LRParams

__all__ = ["GLMParams"]


@dataclass
class GLMParams(LRParams):
    """LR's parameters plus ``objective`` (xgboost's names: ``binary:logistic``,
    ``reg:squarederror``, ``count:poisson``, ``reg:gamma``, ``reg:tweedie``) and
    ``tweedie_variance_power`` (reg:tweedie only, in (1, 2)).

    ``l2`` unset is scikit-learn's default for the family on standardised features (see
    :meth:`Family.default_l2`: 1/n for logistic, 0 for squared error, 1.0 for the log-link
    families); the intercept is never penalised. Every objective but logistic trains with the
    full-batch L-BFGS solver only, without class weights."""

    objective: str = "binary:logistic"
    tweedie_variance_power: float = 1.5

    def __post_init__(self) -> None:
        super().__post_init__()
        fam = self.family  # checks the objective and the Tweedie power
        if not fam.logistic and self.method != "lbfgs":
            raise ConfigError(
                f"invalid GLM parameters: {self.objective} trains with solver 'lbfgs' only",
                "drop solver and the mini-batch fields (epochs, batch_size, ...)",
            )
        if not fam.logistic and self.class_weight is not None:
            raise ConfigError(
                f"invalid GLM parameters: class_weight is for binary:logistic, not {self.objective}",
                "drop class_weight",
            )

    @property
    def family(self) -> Family:
        return Family(self.objective, float(self.tweedie_variance_power))

    def penalty(self, n_train: int) -> float:
        return self.family.default_l2(n_train) if self.l2 is None else float(self.l2)
