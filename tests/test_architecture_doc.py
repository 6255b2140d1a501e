"""docs/architecture.md stays true: every module of the project has its line, and no line names a
module that no longer exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("core", "utils", "config", "database", "strategies", "simulator", "executor", "trader",
            "backtest", "alerts", "dashboard")  # fmt: skip


def _modules() -> set[str]:
    found = set()
    for package in PACKAGES:
        folder = ROOT / package
        if folder.is_dir():
            for path in folder.rglob("*.py"):
                if "migrations" not in path.parts and path.name != "__init__.py":
                    found.add(path.relative_to(ROOT).as_posix())
    return found


def _listed() -> set[str]:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    return set(re.findall(r"^\| `([a-z_/]+\.py)` \|", text, flags=re.MULTILINE))


def test_every_module_has_its_line_in_the_architecture_doc() -> None:
    missing = sorted(_modules() - _listed())
    assert not missing, f"add a line for each to docs/architecture.md: {missing}"


def test_the_architecture_doc_names_no_module_that_is_gone() -> None:
    gone = sorted(_listed() - _modules())
    assert not gone, f"docs/architecture.md names modules that no longer exist: {gone}"
