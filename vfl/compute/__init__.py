"""Local plaintext compute on one array-API namespace (NumPy by default, PyTorch or CuPy on
request): binning, gradients, histograms, split search, leaf weights, routing, metrics, and
the linear algebra of vertical LR (scores, logistic, log-loss, residual, gradient).

Every function takes the namespace ``xp`` explicitly (as scikit-learn's array-API support does),
so one code path runs on NumPy in CI, on PyTorch-CPU in the comparison tests, and on a GPU.
"""

from vfl.compute.backend import DEVICES, Backend, bincount, get_backend, to_numpy
from vfl.compute.binning import BinMapper, fit_bins
from vfl.compute.histogram import histogram
from vfl.compute.linear import (
    linear_scores,
    log_loss,
    logistic,
    lr_gradient,
    lr_residual,
    take_rows,
)
from vfl.compute.metrics import accuracy, auc, auc_ovr, rmse
from vfl.compute.objectives import (
    GH_SUM_LIMIT_BITS,
    GH_VALUE_LIMIT_BITS,
    LOG_LINK,
    LOSS_METRIC,
    MULTICLASS,
    OBJECTIVES,
    base_margin,
    check_labels,
    check_tweedie_power,
    gh_shift,
    grad_hess,
    initial_margin,
    n_outputs,
    sigmoid,
    softmax,
    task_of,
    train_loss,
    transform_margin,
)
from vfl.compute.split import (
    BestSplit,
    SplitRule,
    best_split,
    leaf_weight,
    split_gains,
    tie_tolerance,
)
from vfl.compute.trees import route_rows

__all__ = [
    "DEVICES",
    "GH_SUM_LIMIT_BITS",
    "GH_VALUE_LIMIT_BITS",
    "LOG_LINK",
    "LOSS_METRIC",
    "MULTICLASS",
    "OBJECTIVES",
    "Backend",
    "BestSplit",
    "BinMapper",
    "SplitRule",
    "accuracy",
    "auc",
    "auc_ovr",
    "base_margin",
    "best_split",
    "bincount",
    "check_labels",
    "check_tweedie_power",
    "fit_bins",
    "get_backend",
    "gh_shift",
    "grad_hess",
    "histogram",
    "initial_margin",
    "leaf_weight",
    "linear_scores",
    "log_loss",
    "logistic",
    "lr_gradient",
    "lr_residual",
    "n_outputs",
    "rmse",
    "route_rows",
    "sigmoid",
    "softmax",
    "split_gains",
    "take_rows",
    "task_of",
    "tie_tolerance",
    "to_numpy",
    "train_loss",
    "transform_margin",
]
