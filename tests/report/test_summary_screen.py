"""The summary screen (vfl.report.summary) and the HTML report show the same figures as
summary.json, formatted alike."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from tests.report.conftest import ReportDom, expected_cells, load
from vfl.report.html import build_report
from vfl.report.summary import render_summary


def _screen(s: dict) -> str:
    console = Console(record=True, width=120, file=io.StringIO())
    console.print(render_summary(s))
    return console.export_text()


def test_screen_report_and_json_agree(sbt_out: Path, lr_out: Path) -> None:
    for out in (sbt_out, lr_out):
        s = load(out)
        screen = _screen(s)
        dom = ReportDom(build_report(out).read_text())
        cells = expected_cells(s)
        cells.pop("bytes_sent.total")  # the screen has no total
        for key, text in cells.items():
            assert dom.keys[key] == text, key
            if key.startswith("parties.") and key.endswith(".features"):
                continue  # a bare small integer: not a meaningful substring check
            assert text in screen, (key, text)
        for k, v in s["metrics"].items():
            assert f"{k}  " in screen or f"{k} " in screen
            assert f"{v:.4f}   (centralised baseline {s['baseline'][k]:.4f})" in screen


def test_screen_names_a_non_default_device(lr_out: Path) -> None:
    s = load(lr_out)
    assert s["device"] == "cpu" and "plaintext compute" not in _screen(s)
    assert "lr with ckks encryption, plaintext compute on cuda" in _screen({**s, "device": "cuda"})
