"""Choose one array namespace at start and pass it explicitly; GPU libraries load lazily.

``get_backend("cpu")`` is NumPy; ``"torch"`` is PyTorch on the CPU; ``"cuda"`` is PyTorch on the
first GPU (or CuPy when PyTorch is absent); ``"cupy"`` is CuPy; ``"auto"`` is ``"cuda"`` when that
loads and ``"cpu"`` otherwise. Nothing here imports torch or cupy until a caller asks for it, so
the default install never needs them.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import array_api_compat
import numpy as np

from vfl.core.errors import ConfigError

__all__ = ["DEVICES", "Backend", "bincount", "check_device", "get_backend", "to_numpy"]

#: the names get_backend accepts (a party-local choice: never sent to peers)
DEVICES = ("cpu", "numpy", "torch", "cuda", "cupy", "auto")


@dataclass(frozen=True)
class Backend:
    """An array namespace plus the device arrays are created on."""

    name: str
    xp: Any
    device: Any = None

    def asarray(self, a: Any, dtype: Any = None) -> Any:
        """``a`` (NumPy or list) on this backend; ``dtype`` is one of ``xp``'s dtypes."""
        return self.xp.asarray(a, dtype=dtype, device=self.device)

    def to_numpy(self, a: Any) -> np.ndarray:
        return to_numpy(a)


def check_device(device: str, source: str, place: str = "") -> str:
    """``device`` if :func:`get_backend` accepts the name (without loading anything), else a
    ConfigError naming where it was set: ``source`` (an option or file), ``place`` (a section)."""
    if device not in DEVICES:
        where = f" {place}" if place else ""
        raise ConfigError(
            f"{source}: unknown device {device!r}",
            f"use one of {', '.join(DEVICES)}{where} (auto: a GPU if usable, else cpu)",
        )
    return device


def get_backend(device: str = "cpu") -> Backend:
    """The namespace for ``device``; raises a ConfigError that says what to install.

    ``"auto"`` takes a GPU where one is usable and falls back to NumPy, so one job file or
    command runs unchanged on GPU and CPU-only machines.
    """
    if device == "auto":
        try:
            return get_backend("cuda")
        except ConfigError:
            return get_backend("cpu")
    if device in ("cpu", "numpy"):
        return Backend("numpy", array_api_compat.array_namespace(np.empty(0)), "cpu")
    if device in ("torch", "cuda"):
        try:
            import torch
        except ImportError as exc:
            if device == "cuda":
                return _cupy()
            raise ConfigError(
                "device='torch' needs PyTorch, which is not installed",
                "pip install torch (CPU or CUDA wheel), or use device='cpu'",
            ) from exc
        dev = "cpu"
        if device == "cuda":
            if not torch.cuda.is_available():
                raise ConfigError(
                    "device='cuda' was asked for but PyTorch sees no CUDA GPU",
                    "run on a machine with a GPU and a CUDA build of torch, or use device='cpu'",
                )
            dev = "cuda"
        xp = array_api_compat.array_namespace(torch.empty(0))
        return Backend(f"torch-{dev}", xp, torch.device(dev))
    if device == "cupy":
        return _cupy()
    raise ConfigError(f"unknown compute device {device!r}", f"use one of {', '.join(DEVICES)}")


def _cupy() -> Backend:
    try:
        import cupy
    except ImportError as exc:
        raise ConfigError(
            "device='cuda'/'cupy' needs CuPy or a CUDA build of PyTorch",
            "pip install cupy-cuda12x (or torch), or use device='cpu'",
        ) from exc
    return Backend("cupy", array_api_compat.array_namespace(cupy.empty(0)), cupy.cuda.Device(0))


def to_numpy(a: Any) -> np.ndarray:
    """Copy an array of any supported namespace back to host NumPy."""
    if isinstance(a, np.ndarray):
        return a
    if array_api_compat.is_torch_array(a):
        return a.detach().cpu().numpy()
    if array_api_compat.is_cupy_array(a):
        return a.get()
    return np.asarray(a)


def bincount(xp: Any, idx: Any, weights: Any, minlength: int) -> Any:
    """Weighted bincount (not in the array API standard): the one scatter-add the histograms need."""
    if array_api_compat.is_numpy_namespace(xp):
        return np.bincount(idx, weights=weights, minlength=minlength)
    if array_api_compat.is_torch_namespace(xp):
        return sys.modules["torch"].bincount(idx, weights=weights, minlength=minlength)
    if array_api_compat.is_cupy_namespace(xp):
        return sys.modules["cupy"].bincount(idx, weights=weights, minlength=minlength)
    # Generic fallback: one-hot sums (memory O(len(idx) * minlength); fine for small inputs).
    onehot = xp.astype(xp.arange(minlength)[:, None] == idx[None, :], weights.dtype)
    return xp.sum(onehot * weights[None, :], axis=1)
