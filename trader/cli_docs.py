"""`python -m trader docs generate [--check]`: write the generated reference docs.

docs/configuration.md comes from the configuration models (`trader/docs_config.py`), docs/cli.md
from the argument parser (`trader/docs_cli.py`). Run it after adding a key, a variable, a
strategy or a command; tests/docs/test_generated_docs.py fails while a file is out of date, and
`--check` does the same here (exit 1, nothing written).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from config.settings import PROJECT_ROOT

DOCS = PROJECT_ROOT / "docs"


def generated() -> dict[Path, Callable[[], str]]:
    """Each generated file and the function that renders it."""
    from trader import docs_cli, docs_config

    return {DOCS / "configuration.md": docs_config.render, DOCS / "cli.md": docs_cli.render}


def add_parser(sub: Any) -> None:
    """`docs generate [--check]`."""
    group = sub.add_parser(
        "docs", help="generate the reference docs (configuration, command line)", description=__doc__
    )
    commands = group.add_subparsers(dest="docs_command", metavar="COMMAND")
    generate = commands.add_parser(
        "generate",
        help="write docs/configuration.md and docs/cli.md from the code",
        description=(
            "Render docs/configuration.md from config/models.py, the strategies' Params and "
            "config/settings.py, and docs/cli.md from the argument parser; write the files that changed."
        ),
    )
    generate.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if a file is out of date"
    )
    generate.set_defaults(handler=generate_command)
    group.set_defaults(handler=_help_of(group))


def _help_of(parser: argparse.ArgumentParser) -> Callable[[argparse.Namespace], int]:
    def show(_: argparse.Namespace) -> int:
        parser.print_help(sys.stderr)
        return 2

    return show


def out_of_date() -> list[Path]:
    """The generated files whose content differs from what the code renders now."""
    stale = []
    for path, render in generated().items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current != render():
            stale.append(path)
    return stale


def generate_command(args: argparse.Namespace) -> int:
    """Write (or with --check, only compare) every generated doc."""
    if args.check:
        stale = out_of_date()
        for path in stale:
            print(f"{_shown(path)}: out of date; run python -m trader docs generate")
        return 1 if stale else 0
    for path, render in generated().items():
        text = render()
        shown = _shown(path)
        if path.exists() and path.read_text(encoding="utf-8") == text:
            print(f"{shown}: up to date")
            continue
        path.write_text(text, encoding="utf-8")
        print(f"{shown}: written")
    return 0


def _shown(path: Path) -> Path:
    return path.relative_to(PROJECT_ROOT) if path.is_relative_to(PROJECT_ROOT) else path


__all__ = ["add_parser", "generate_command", "generated", "out_of_date"]
