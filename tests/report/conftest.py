"""Real runs of `vfl simulate` (breast, 569 rows, two parties) shared by the report tests, so that
plots and reports are checked against what the runtime actually writes."""

from __future__ import annotations

import json
import shutil
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
