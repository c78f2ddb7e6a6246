"""A structured server log: one JSON object per line, written and flushed at once.

``vfl serve`` runs for weeks on a partner's machine; its operators grep and ship its log, so each
event (a refused delivery, a job's start and end) is one self-contained line. Anything a peer
chose (job ids, topics, party names, error text) is clipped before it is logged, and JSON
escaping keeps a peer's newlines from forging log lines.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

__all__ = ["MAX_FIELD_CHARS", "EventLog", "clip"]

MAX_FIELD_CHARS = 200


def clip(value: object, limit: int = MAX_FIELD_CHARS) -> str:
    """A peer-chosen value as a bounded string (repr of non-strings)."""
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit] + f"...(+{len(text) - limit} chars)"


class EventLog:
    """Writes events as JSON lines through ``write`` (e.g. ``print`` or a file's ``write``)."""

    def __init__(self, party: str, write: Callable[[str], Any] = print) -> None:
        self.party = party
        self._write = write
        self._lock = threading.Lock()
        self.counts: dict[str, int] = {}
        self.dropped = 0  # lines the sink could not take

    def __call__(self, event: str, msg: str = "", **fields: Any) -> None:
        rec: dict[str, Any] = {
            "ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "party": self.party,
            "event": event,
        }
        if msg:
            rec["msg"] = clip(msg, 4 * MAX_FIELD_CHARS)
        for k, v in fields.items():
            rec[k] = v if isinstance(v, bool | int | float) or v is None else clip(v)
        line = json.dumps(rec, ensure_ascii=True)
        with self._lock:
            self.counts[event] = self.counts.get(event, 0) + 1
            try:
                self._write(line)
            except (OSError, ValueError):  # a closed or broken log stream must not stop a server
                self.dropped += 1
