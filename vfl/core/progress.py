"""The callback through which long steps report progress, shared by every layer.

``progress(stage, done, total)``, e.g. ``("tree", 3, 5)``: a protocol calls it once when a stage
begins (``done`` = rounds already done, 0 unless the job resumed) and again after every finished
round. Sinks (``vfl.report.progress``) count rates and ETAs from that first call.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["Progress"]

Progress = Callable[[str, int, int], None]
