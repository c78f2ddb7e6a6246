"""The report as a browser renders it: headless Chromium loads report.html from disk (no network),
the DOM it builds holds the numbers and the plots, and a screenshot is not blank.

CI installs Debian's chromium (`apt-get install -y chromium`); where it is missing this test tries
to install it (root with apt-get only) and is skipped, with the reason, only if that fails."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from tests.report.conftest import ReportDom, expected_cells, load
from vfl.report.html import build_report

WINDOW = (1280, 2000)


def _install() -> str:
    """Try to install chromium; returns why it could not be."""
    if shutil.which("apt-get") is None:
        return "apt-get is not available"
    if os.geteuid() != 0:
        return "not root, so apt-get cannot install it"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
        except subprocess.TimeoutExpired:
            return f"`{' '.join(cmd)}` took over 10 minutes"
        if proc.returncode != 0:
            return f"`{' '.join(cmd)}` failed: {proc.stderr.strip()[-300:]}"
    return ""


@pytest.fixture(scope="session")
def chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        why = _install()
        exe = shutil.which("chromium")
        if exe is None:
            pytest.skip(f"chromium is not installed and could not be installed: {why or 'unknown reason'}")
    return exe


def _chromium(exe: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
    ]
    proc = subprocess.run([exe, *flags, *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


def test_chromium_renders_numbers_and_plots(chromium: str, sbt_out: Path, tmp_path: Path) -> None:
    page = build_report(sbt_out).resolve().as_uri()
    dom = ReportDom(_chromium(chromium, tmp_path / "profile", "--dump-dom", page).stdout)
    s = load(sbt_out)
    expected = expected_cells(s)
    assert {k: dom.keys.get(k) for k in expected} == expected
    svgs = {p.read_bytes() for p in (sbt_out / "plots").glob("*.svg")}
    rendered = {base64.b64decode(i["src"].removeprefix("data:image/svg+xml;base64,")) for i in dom.images}
    assert len(dom.images) == len(svgs) == 4 and rendered == svgs

    shot = tmp_path / "report.png"
    _chromium(chromium, tmp_path / "profile2", f"--screenshot={shot}", page)
    img = imread(shot)
    assert img.shape[:2] == (WINDOW[1], WINDOW[0])
    assert float(img[..., :3].std()) > 0.05  # text, tables and plots, not a blank page
    # the plots drew (a broken image would show its alt text): matplotlib's first colour, which
    # the page's own styles never use, covers a visible area
    blue = np.array([0x1F, 0x77, 0xB4]) / 255
    assert int((np.abs(img[..., :3] - blue).max(axis=-1) < 0.03).sum()) > 2_000
