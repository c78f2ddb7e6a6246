"""Estimator parameters, declared once: the registry's model parameters plus the estimator's own.

scikit-learn reads an estimator's parameters from its ``__init__`` signature (``get_params``,
``clone``, grid search). Here that signature is built from the model kind's parameter dataclass,
so a parameter added to a model appears, with its default, in the job file, ``--param`` and the
estimator alike; and ``__init__`` only stores what it is given, as scikit-learn requires.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from vfl.runtime.models.registry import MODELS

__all__ = ["declare_params"]

T = TypeVar("T", bound=type)


def _estimator_level(model: str) -> dict[str, Any]:
    """What the estimator chooses for the job (or for this process only: ``device``, ``executor``
    and ``executor_address``)."""
    return {
        "he": MODELS[model].default_he,
        "device": "cpu",
        "executor": "local",
        "executor_address": None,
        "label_holder": None,
        "id_column": None,
        "unaligned": "error",
        "nan_policy": "error",
        "random_state": 0,
    }


def declare_params(model: str, **overrides: Any) -> Callable[[T], T]:
    """Give the class an ``__init__`` whose keyword-only parameters are ``model``'s parameters
    (with ``overrides`` as other defaults) followed by the estimator-level ones."""

    def wrap(cls: T) -> T:
        model_defaults = {**MODELS[model].param_defaults(), **overrides}
        defaults = {**model_defaults, **_estimator_level(model)}

        def __init__(self: Any, **kwargs: Any) -> None:
            unknown = sorted(set(kwargs) - set(defaults))
            if unknown:
                raise TypeError(
                    f"{type(self).__name__} got unknown parameters {', '.join(unknown)}; "
                    f"known: {', '.join(defaults)}"
                )
            for name, default in defaults.items():
                setattr(self, name, kwargs.get(name, default))

        kw = inspect.Parameter.KEYWORD_ONLY
        __init__.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [
                inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD),
                *(inspect.Parameter(n, kw, default=v) for n, v in defaults.items()),
            ]
        )
        __init__.__qualname__ = f"{cls.__qualname__}.__init__"
        __init__.__doc__ = f"Parameters: {', '.join(defaults)} (see the class docstring)."
        cls.__init__ = __init__  # type: ignore[misc]
        cls._model = model  # type: ignore[attr-defined]
        cls._param_names = tuple(model_defaults)  # type: ignore[attr-defined]
        return cls

    return wrap
