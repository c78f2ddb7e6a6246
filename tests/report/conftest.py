"""Real runs of `vfl simulate` (breast, 569 rows, two parties) shared by the report tests, so that
plots and reports are checked against what the runtime actually writes."""

from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import FATE_DATA
from vfl.report.curves import roc_curves
from vfl.runtime.modes.config import build_simulation_config
from vfl.runtime.modes.simulate import simulate


def _run(out: Path, model: str, he: str, params: dict[str, Any]) -> Path:
    data = (
        f"insurer={FATE_DATA / 'breast_hetero_guest.csv.gz'}",
        f"hospital={FATE_DATA / 'breast_hetero_host.csv.gz'}",
    )
    cfg = build_simulation_config(
        data, "id", "insurer:y", model=model, he=he, out_dir=out, test_size=0.25, seed=7
    )
    cfg.model_params.update(params)
    events: list[list[Any]] = []
    simulate(cfg, progress=lambda party: lambda *e: events.append([party, *e]))
    progress_log(out).write_text(json.dumps(events))
    return out


def progress_log(out: Path) -> Path:
    """Where a run's progress events are kept: beside its output folder, not in it."""
    return out.with_name(out.name + ".progress.json")


@pytest.fixture(scope="session")
def sbt_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _run(tmp_path_factory.mktemp("sbt"), "sbt", "ou", {"n_estimators": 3})


@pytest.fixture(scope="session")
def lr_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _run(tmp_path_factory.mktemp("lr"), "lr", "ckks", {"epochs": 3})


def load(out: Path) -> dict[str, Any]:
    return json.loads((out / "summary.json").read_text())


def with_curves(run: Path, dest: Path) -> Path:
    """A copy of a run whose summary has ``curves``. Until the runtime writes them, they are
    computed here from seeded synthetic scores (the plots and report only read the layout)."""
    shutil.copytree(run, dest)
    s = load(dest)
    if not s.get("curves"):
        rng = np.random.default_rng(0)
        y = rng.integers(0, 2, 400)
        scores = {"model": y * 0.8 + rng.random(400), "baseline": y * 0.7 + rng.random(400)}
        s["curves"] = roc_curves(y, scores)
        (dest / "summary.json").write_text(json.dumps(s))
    return dest


@pytest.fixture()
def sbt_out(sbt_run: Path, tmp_path: Path) -> Path:
    """A private copy (tests write plots and reports into it) with ROC curves."""
    return with_curves(sbt_run, tmp_path / "sbt")


@pytest.fixture()
def lr_out(lr_run: Path, tmp_path: Path) -> Path:
    return with_curves(lr_run, tmp_path / "lr")


class ReportDom(HTMLParser):
    """What the tests read from a report page: text of every ``data-key`` element, the images,
    and anything that would load from outside the file."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.keys: dict[str, str] = {}
        self.images: list[dict[str, str]] = []
        self.figures: list[str] = []
        self.external: list[str] = []
        self.tags: set[str] = set()
        self._open: list[tuple[str, str, list[str]]] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.tags.add(tag)
        if tag == "img":
            self.images.append(a)
        if tag == "figure" and "data-plot" in a:
            self.figures.append(a["data-plot"])
        for k in ("src", "href"):
            if k in a and not a[k].startswith("data:"):
                self.external.append(a[k])
        if "data-key" in a:
            self._open.append((tag, a["data-key"], []))

    def handle_endtag(self, tag: str) -> None:
        if self._open and self._open[-1][0] == tag:
            _, key, text = self._open.pop()
            self.keys[key] = "".join(text).strip()

    def handle_data(self, data: str) -> None:
        for _, _, text in self._open:
            text.append(data)


def expected_cells(s: dict[str, Any]) -> dict[str, str]:
    """The report's cells, formatted as the summary screen formats them."""
    from vfl.report.summary import human_bytes

    cells = {
        "intersection": f"{s['intersection']:,}",
        "bytes_sent.total": human_bytes(sum(s["bytes_sent"].values())),
    }
    for name, p in s["parties"].items():
        cells[f"parties.{name}.rows"] = f"{p['rows']:,}"
        cells[f"parties.{name}.features"] = str(p["features"])
        cells[f"bytes_sent.{name}"] = human_bytes(s["bytes_sent"][name])
    for k, v in s["metrics"].items():
        cells[f"metrics.{k}"] = f"{v:.4f}"
        cells[f"baseline.{k}"] = f"{s['baseline'][k]:.4f}"
    for k, v in s["seconds"].items():
        cells[f"seconds.{k}"] = f"{v:.1f} s"
    return cells


_NS = "{http://www.w3.org/2000/svg}"
_TRANSLATE = re.compile(r"translate\(([-\d.]+)[, ]+([-\d.]+)\)")


def _translate(node: ET.Element) -> tuple[float, float]:
    m = _TRANSLATE.search(node.get("transform", ""))
    return (float(m[1]), float(m[2])) if m else (0.0, 0.0)


class SvgChart:
    """What the tests read from one pygal chart's SVG: its texts, titles, plot area, bars and
    legend entries, in the chart's own pixels."""

    def __init__(self, svg: bytes | str | ET.Element) -> None:
        if isinstance(svg, ET.Element):
            self.root = svg
        else:
            self.root = ET.fromstring(svg.encode() if isinstance(svg, str) else svg)
        assert self.root.tag == f"{_NS}svg", self.root.tag
        self.width, self.height = float(self.root.get("width", 0)), float(self.root.get("height", 0))

    def panels(self) -> list[SvgChart]:
        """The charts a panel figure nests side by side."""
        return [SvgChart(e) for e in self.root.findall(f"{_NS}svg")]

    def colours(self) -> dict[int, str]:
        """Series index -> its colour, from the chart's own style sheet."""
        css = "".join(e.text or "" for e in self.root.iter(f"{_NS}style"))
        return {int(i): c for i, c in re.findall(r"\.color-(\d+)[^{}]*\{stroke:(#[0-9a-fA-F]{6});fill:", css)}

    def axis_labels(self, axis: str) -> list[tuple[str, float, float]]:
        """The labels along the axis pygal draws as ``axis`` ("x": bottom, "y": left): text, x, y."""
        plot = self._groups("plot")[0]
        px, py = _translate(plot)
        return [
            (t.text or "", px + float(t.get("x", 0)), py + float(t.get("y", 0)))
            for g in plot
            if g.get("class", "").split()[:2] == ["axis", axis]
            for t in g.iter(f"{_NS}text")
        ]

    def bar_colours(self) -> list[str]:
        """The fill of every bar with an area: its own style, else its series' colour."""
        plot, colours = self._groups("plot")[0], self.colours()
        out = []
        for g in plot:
            m = re.search(r"serie-(\d+)", g.get("class", ""))
            for bar in g.iter(f"{_NS}g") if m else ():
                rect = bar.find(f"{_NS}rect")
                if (
                    "bar" not in bar.get("class", "").split()
                    or rect is None
                    or float(rect.get("width", 0)) <= 0
                ):
                    continue
                fill = re.search(r"fill:\s*(#[0-9a-fA-F]{6})", bar.get("style", ""))
                out.append(fill[1] if fill else colours[int(m[1])])
        return out

    def series_bars(self) -> dict[int, list[tuple[float, float, float, float]]]:
        """Series index -> its bars that have an area (pygal draws a zero-size bar for None)."""
        plot = self._groups("plot")[0]
        px, py = _translate(plot)
        out: dict[int, list[tuple[float, float, float, float]]] = {}
        for g in plot:
            m = re.search(r"serie-(\d+)", g.get("class", ""))
            if not m:
                continue
            for r in g.iter(f"{_NS}rect"):
                x, y, w, h = (float(r.get(k, 0)) for k in ("x", "y", "width", "height"))
                if w > 0 and h > 0:
                    out.setdefault(int(m[1]), []).append((px + x, py + y, px + x + w, py + y + h))
        return out

    def _groups(self, cls: str) -> list[ET.Element]:
        return [g for g in self.root.iter(f"{_NS}g") if g.get("class", "").split() == cls.split()]

    def texts(self) -> list[str]:
        return [(t.text or "").strip() for t in self.root.iter(f"{_NS}text")]

    def titles(self) -> dict[str, str]:
        """The chart title, the x axis title, and the left ("y") and right ("y2") axis titles."""
        out: dict[str, str] = {}
        for t in self._groups("titles")[0].iter(f"{_NS}text"):
            if "plot_title" in t.get("class", ""):
                key = "title"
            elif "rotate" in t.get("transform", ""):
                key = "y" if float(t.get("x", 0)) < self.width / 2 else "y2"
            else:
                key = "x"
            out[key] = (out[key] + "\n" if key in out else "") + (t.text or "")
        return out

    def plot_box(self) -> tuple[float, float, float, float]:
        """x0, y0, x1, y1 of the plot area."""
        plot = self._groups("plot")[0]
        x, y = _translate(plot)
        bg = plot.find(f"{_NS}rect")
        assert bg is not None
        return x, y, x + float(bg.get("width", 0)), y + float(bg.get("height", 0))

    def bars(self) -> list[tuple[float, float, float, float]]:
        """x0, y0, x1, y1 of every bar, in the chart's pixels."""
        plot = self._groups("plot")[0]
        px, py = _translate(plot)
        return [
            (
                px + float(r.get("x", 0)),
                py + float(r.get("y", 0)),
                px + float(r.get("x", 0)) + float(r.get("width", 0)),
                py + float(r.get("y", 0)) + float(r.get("height", 0)),
            )
            for r in plot.iter(f"{_NS}rect")
            if "rect" in r.get("class", "").split()
        ]

    def legend(
        self, font: float = 13.0, box: float = 12.0
    ) -> list[tuple[str, tuple[float, float, float, float]]]:
        """Each legend entry's text and its box: the colour square and the text, whose width is
        estimated as pygal estimates it (0.6 em a character)."""
        (legends,) = self._groups("legends")
        lx, ly = _translate(legends)
        out = []
        for entry in legends.iter(f"{_NS}g"):
            rect, text = entry.find(f"{_NS}rect"), entry.find(f"{_NS}text")
            if rect is None or text is None:
                continue
            x0, y0 = lx + float(rect.get("x", 0)), ly + float(rect.get("y", 0))
            label = text.text or ""
            out.append((label, (x0, y0, x0 + box + 5 + 0.6 * font * len(label), y0 + max(box, font))))
        return out


def overlaps(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def self_contained(svg: bytes) -> None:
    """No script, no address anything could be fetched from (the only URLs: XML namespaces),
    no generation date, and the fixed chart ids."""
    text = svg.decode()
    assert text.startswith("<?xml") and "</svg>" in text
    assert "<script" not in text and "javascript" not in text.lower()
    assert set(re.findall(r"https?://[^\s\"'<>)]*", text)) <= {
        "http://www.w3.org/2000/svg",
        "http://www.w3.org/1999/xlink",
    }
    assert "url(" not in text and "@import" not in text and "<!--" not in text
    assert not re.search(r"20\d\d-\d\d-\d\d", text)
    ids = re.findall(r'<svg[^>]* id="([^"]*)"', text)
    assert ids and all(re.fullmatch(r"chart-[a-z]+(-[a-z0-9_]+)?", i) for i in ids), ids
