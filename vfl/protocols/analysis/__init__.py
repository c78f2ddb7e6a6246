"""Federated feature analysis: per-party statistics, WOE/IV of every feature against the label
holder's label, and Pearson correlation across parties (one role per module).

See protocols/specs/analysis.md for the messages, their order and what each party learns.
"""

from vfl.protocols.analysis.active import ActiveAnalysis, analyse_active
from vfl.protocols.analysis.passive import PassiveAnalysis, analyse_passive
from vfl.protocols.analysis.stages import QUANTILE_LEVELS, SHARE_POLICIES, AnalysisConfig, Topics

__all__ = [
    "QUANTILE_LEVELS",
    "SHARE_POLICIES",
    "ActiveAnalysis",
    "AnalysisConfig",
    "PassiveAnalysis",
    "Topics",
    "analyse_active",
    "analyse_passive",
]
