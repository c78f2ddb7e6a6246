"""The structured server log: one JSON object per line, peer-chosen values clipped, and a broken
sink never stops the server."""

from __future__ import annotations

import json

from vfl.transport.events import MAX_FIELD_CHARS, EventLog


def test_one_json_line_per_event_with_clipped_peer_values() -> None:
    lines: list[str] = []
    log = EventLog("hospital", lines.append)
    log("delivery_refused", 'bad\n{"event": "forged"}', peer="x" * 1000, bytes=12, ok=True)
    assert len(lines) == 1 and "\n" not in lines[0]
    rec = json.loads(lines[0])
    assert rec["event"] == "delivery_refused" and rec["party"] == "hospital"
    assert rec["bytes"] == 12 and rec["ok"] is True
    assert len(rec["peer"]) < MAX_FIELD_CHARS + 30 and rec["peer"].endswith("chars)")
    assert log.counts == {"delivery_refused": 1}


def test_a_broken_sink_is_counted_not_raised() -> None:
    def broken(line: str) -> None:
        raise BrokenPipeError("stderr closed")

    log = EventLog("hospital", broken)
    log("job_done", job="j")
    assert log.dropped == 1 and log.counts == {"job_done": 1}
