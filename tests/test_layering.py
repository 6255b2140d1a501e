"""The packages depend on each other one way only (docs/architecture.md, "Layers").

Every import of every module is read from the source (`ast`, so imports inside functions and under
TYPE_CHECKING count too) and checked against the allowed edges below. A back-edge fails with the
module, the line and the import that broke the rule.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# package -> the project packages it may import (itself always allowed)
ALLOWED: dict[str, frozenset[str]] = {
    "core": frozenset(),
    "utils": frozenset(),
    # config validates each symbol's strategy parameters with the strategy's own Params model
    "config": frozenset({"core", "utils", "strategies"}),
    "database": frozenset({"core", "utils"}),
    "strategies": frozenset({"core", "utils"}),
    "simulator": frozenset({"core", "utils"}),
    "executor": frozenset({"core", "utils", "config", "database", "simulator"}),
    "backtest": frozenset({"core", "utils", "config", "database", "strategies", "simulator", "executor"}),
    "alerts": frozenset({"core", "utils", "config", "database"}),
    "dashboard": frozenset({"core", "utils", "config", "database"}),
    "trader": frozenset(
        {"core", "utils", "config", "database", "strategies", "simulator", "executor", "backtest", "alerts"}
    ),
}
# Inside executor/: the Binance adapter and the order path do not know each other or risk.
EXECUTOR_ALLOWED: dict[str, frozenset[str]] = {
    "venue_api": frozenset(),
    "binance": frozenset({"venue_api"}),
    "in_process": frozenset({"venue_api"}),
    "orders": frozenset({"venue_api"}),
    "risk": frozenset({"venue_api", "orders"}),
}
PROJECT = frozenset(ALLOWED)


@dataclass(frozen=True)
class BackEdge:
    """One import that the layering does not allow."""

    module: str
    line: int
    imported: str

    def __str__(self) -> str:
        return f"{self.module}:{self.line} imports {self.imported}"


def _imports(path: Path) -> list[tuple[int, list[str]]]:
    """(line, candidates) per import statement; a statement is one edge, reported once."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, list[str]]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, [alias.name]) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from executor import orders` names a sub-package: check the names too.
            names = [f"{node.module}.{alias.name}" for alias in node.names]
            found.append((node.lineno, [node.module, *names]))
    return found


def _executor_part(dotted: str) -> str | None:
    parts = dotted.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "executor" else None


def back_edges(root: Path) -> list[BackEdge]:
    """Every import under `root`'s project packages that breaks the layering."""
    edges: list[BackEdge] = []
    for package in sorted(PROJECT):
        folder = root / package
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*.py")):
            if "migrations" in path.parts:
                continue
            module = ".".join(path.relative_to(root).with_suffix("").parts)
            own_part = _executor_part(module)
            for line, candidates in _imports(path):
                bad = next((c for c in candidates if not _allowed(package, own_part, c)), None)
                if bad is not None:
                    edges.append(BackEdge(module, line, bad))
    return edges


def _allowed(package: str, own_part: str | None, imported: str) -> bool:
    top = imported.split(".")[0]
    if top not in PROJECT:
        return True
    if top != package:
        return top in ALLOWED[package]
    theirs = _executor_part(imported)
    if package != "executor" or own_part is None or theirs is None or theirs == own_part:
        return True
    return theirs not in EXECUTOR_ALLOWED or theirs in EXECUTOR_ALLOWED.get(own_part, frozenset())


def test_every_import_follows_the_layers() -> None:
    edges = back_edges(ROOT)
    assert not edges, "imports against the layering:\n" + "\n".join(map(str, edges))


def test_nothing_imports_the_composition_root() -> None:
    for package in PROJECT - {"trader"}:
        assert "trader" not in ALLOWED[package]


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path


def test_a_back_edge_is_found_and_named(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "core/events.py": "from __future__ import annotations\nimport trader.app\n",
            "core/bus.py": "from core.events import Candle\n",
            "strategies/vwap.py": "def f():\n    from executor.orders import manager\n",
            "executor/orders/manager.py": "from executor.risk.gate import RiskGate\n",
            "executor/risk/gate.py": "from executor.orders.store import find_order\n",
            "executor/binance/gateway.py": "from executor import orders\n",
        },
    )
    found = {str(edge) for edge in back_edges(root)}
    assert found == {
        "core.events:2 imports trader.app",
        "strategies.vwap:2 imports executor.orders",
        "executor.orders.manager:1 imports executor.risk.gate",
        "executor.binance.gateway:1 imports executor.orders",
    }


def test_the_real_tree_has_no_back_edge_until_one_is_planted(tmp_path: Path) -> None:
    """The check on a copy of the real tree: clean, then one planted import is reported."""
    copy = tmp_path / "tree"
    for package in PROJECT:
        source = ROOT / package
        if source.is_dir():
            for path in source.rglob("*.py"):
                target = copy / path.relative_to(ROOT)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    assert back_edges(copy) == []
    planted = copy / "core" / "events.py"
    back_edge = "\nfrom executor.orders.store import find_order\n"
    planted.write_text(planted.read_text(encoding="utf-8") + back_edge, encoding="utf-8")
    assert [edge.imported for edge in back_edges(copy)] == ["executor.orders.store"]
