"""The layering of DESIGN.md is enforced, not a convention; generated wire code matches the
.proto sources; the public API is pinned."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import vfl

REPO = Path(__file__).resolve().parents[1]


def test_import_layers_hold() -> None:
    exe = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    proc = subprocess.run([exe], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "broken" not in proc.stdout.split("Contracts:")[-1].lower().replace("0 broken", "")


def test_generated_wire_code_matches_proto_sources(tmp_path: Path) -> None:
    # in a subprocess: grpc_tools bundles its own C++ protobuf, and loading it into the test
    # process before tenseal (which bundles another) aborts the interpreter
    subprocess.run(
        [sys.executable, str(REPO / "scripts" / "gen_protos.py"), str(tmp_path)],
        check=True,
        capture_output=True,
    )
    fresh = {p.name: p.read_text() for p in tmp_path.glob("*_pb2*.py*")}
    checked_in = {p.name: p.read_text() for p in (REPO / "vfl" / "wire" / "v1").glob("*_pb2*.py*")}
    assert fresh.keys() == checked_in.keys(), "run: python scripts/gen_protos.py"
    for name, text in fresh.items():
        assert checked_in[name] == text, f"{name} is stale: run python scripts/gen_protos.py"


def test_no_pickle_in_package() -> None:
    offenders = []
    for p in (REPO / "vfl").rglob("*.py"):
        text = p.read_text()
        if "_pb2" in p.name:
            continue
        for bad in ("import pickle", "allow_pickle=True", "cloudpickle", "eval("):
            if bad in text:
                offenders.append(f"{p.relative_to(REPO)}: {bad}")
    assert not offenders, offenders


PUBLIC_API = [
    "Federation",
    "PartyTransformer",
    "SecureBoostClassifier",
    "SecureBoostRegressor",
    "VerticalFrame",
    "VerticalGammaRegressor",
    "VerticalLinearRegression",
    "VerticalLogisticRegression",
    "VerticalPoissonRegressor",
    "VerticalTweedieRegressor",
    "__version__",
]


def test_public_api_is_pinned() -> None:
    assert sorted(vfl.__all__) == sorted(PUBLIC_API), "update PUBLIC_API deliberately when the API changes"
    for name in vfl.__all__:
        assert hasattr(vfl, name), name


def test_no_import_cycle_between_runtime_modules() -> None:
    """Runtime modules import each other in one direction only (lazy imports count too)."""
    import grimp

    graph = grimp.build_graph("vfl")
    runtime = {m for m in graph.modules if m.startswith("vfl.runtime.")}
    cycles = sorted(
        f"{a} <-> {b}"
        for a in runtime
        for b in graph.find_modules_directly_imported_by(a) & runtime
        if graph.chain_exists(importer=b, imported=a)
    )
    assert not cycles, cycles


def test_runtime_folders_stay_small() -> None:
    """No flat list of more than about ten files in a runtime wing (issue 14's house rule)."""
    crowded = {
        str(d.relative_to(REPO)): n
        for d in [REPO / "vfl" / "runtime", *(REPO / "vfl" / "runtime").iterdir()]
        if d.is_dir() and (n := len(list(d.glob("*.py")))) > 10
    }
    assert not crowded, crowded


def test_benchmarks_live_in_vfl_bench() -> None:
    stray = sorted(
        str(p.relative_to(REPO))
        for p in (REPO / "vfl").rglob("*bench*.py")
        if "bench" not in p.relative_to(REPO / "vfl").parts[0] and p.parent.name != "cli"
    )
    assert not stray, stray


def _tool(name: str) -> str:
    return shutil.which(name) or str(Path(sys.executable).parent / name)


def test_ruff_lint_and_format_are_clean() -> None:
    paths = ["vfl", "tests", "examples", "scripts"]
    lint = subprocess.run([_tool("ruff"), "check", *paths], cwd=REPO, capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    fmt = subprocess.run(
        [_tool("ruff"), "format", "--check", *paths], cwd=REPO, capture_output=True, text=True
    )
    assert fmt.returncode == 0, "run `ruff format`:\n" + fmt.stdout + fmt.stderr


def test_mypy_is_clean_on_the_package() -> None:
    """The settings are [tool.mypy] in pyproject.toml."""
    proc = subprocess.run([_tool("mypy")], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
