"""docs/cli.md, generated from the argument parser: every command, subcommand and flag.

The parser is `trader.cli.build_parser()` itself, walked recursively, so a command registered in
`COMMANDS` (or added to a group such as `db`) appears after `python -m trader docs generate`. A
command that parses its own options (`simulator`, see `OWN_PARSERS`) is documented from its parser.
Help is rendered at a fixed width, so the file does not depend on the terminal.
"""

from __future__ import annotations

import argparse
import importlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from config.settings import PROJECT_ROOT
from trader.docs_config import cell as _cell
from trader.docs_config import prose as _text

WIDTH = 100
# Commands whose options are parsed by another module's `build_parser()`.
OWN_PARSERS: dict[str, str] = {"simulator": "simulator.cli"}


@contextmanager
def _fixed_width() -> Iterator[None]:
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(WIDTH)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = old


def _subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, str, argparse.ArgumentParser]]:
    """(name, one-line help, parser) of each subcommand, in the order they were added."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
            return [(name, helps.get(name, ""), sub) for name, sub in action.choices.items()]
    return []


def _expand(text: str | None, action: argparse.Action, prog: str) -> str:
    if not text:
        return ""
    if "%" not in text:
        return text
    values: dict[str, Any] = {**vars(action), "prog": prog}
    for name, value in list(values.items()):
        if hasattr(value, "__name__"):
            values[name] = value.__name__
    if values.get("choices") is not None:
        values["choices"] = ", ".join(map(str, values["choices"]))
    try:
        return text % values
    except (KeyError, TypeError, ValueError):
        return text


def _shown_default(value: Any) -> str:
    text = str(value)
    root = str(PROJECT_ROOT)
    return text.replace(root + "/", "").replace(root, "<project>")


def _options(parser: argparse.ArgumentParser) -> list[str]:
    rows = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
            continue
        if action.option_strings:
            name = ", ".join(action.option_strings)
            if action.nargs != 0:
                metavar = action.metavar or action.dest.upper()
                name += f" {metavar if isinstance(metavar, str) else ' '.join(metavar)}"
        else:
            name = str(action.metavar or action.dest)
        help_text = _expand(action.help, action, parser.prog)
        if action.choices is not None and "{" not in name:
            help_text += f" (one of: {', '.join(map(str, action.choices))})"
        default = action.default
        empty = default in (None, False, "", argparse.SUPPRESS) or default == []
        shown = "" if empty or action.nargs == 0 else f"`{_shown_default(default)}`"
        rows.append(f"| `{name}` | {_cell(shown)} | {_cell(help_text)} |")
    if not rows:
        return ["No options.", ""]
    return ["| option | default | meaning |", "|---|---|---|", *rows, ""]


def _command(name: str, summary: str, parser: argparse.ArgumentParser, level: int) -> list[str]:
    own = OWN_PARSERS.get(name) if level == 2 else None
    if own is not None:
        real: argparse.ArgumentParser = importlib.import_module(own).build_parser()
        real.prog = parser.prog
        parser = real
    out = [f"{'#' * level} `{parser.prog}`", ""]
    if summary:
        out += [f"*{summary}*", ""]
    out += ["```", *_usage(parser), "```", ""]
    if parser.description:
        raw = parser.formatter_class is argparse.RawDescriptionHelpFormatter
        out += [_text(parser.description.strip() if raw else " ".join(parser.description.split())), ""]
    subcommands = _subcommands(parser)
    options = _options(parser)
    if not (subcommands and options[0] == "No options."):
        out += options
    if parser.epilog:
        out += ["```", parser.epilog.strip(), "```", ""]
    for sub_name, sub_help, sub in subcommands:
        out += _command(sub_name, sub_help, sub, level + 1)
    return out


def _usage(parser: argparse.ArgumentParser) -> list[str]:
    """The usage lines without `usage: ` (continuation lines dedented by as much)."""
    prefix = "usage: "
    lines = parser.format_usage().rstrip().splitlines()
    return [lines[0].removeprefix(prefix), *(line[len(prefix) :] for line in lines[1:])]


def render() -> str:
    """The whole of docs/cli.md."""
    from trader.cli import build_parser

    with _fixed_width():
        parser = build_parser()
        commands = _subcommands(parser)
        out = [
            "# Command line reference",
            "",
            "<!-- Generated by `python -m trader docs generate` from the argument parser "
            "(trader/cli.py and the modules it registers). Do not edit by hand: "
            "tests/docs/test_generated_docs.py fails when this file is out of date. -->",
            "",
            " ".join((parser.description or "").split()),
            "",
            "Exit codes: 0 success, 1 failure or refusal (one line on stderr; details in the log "
            "file), 2 bad configuration or usage, 130 interrupted. `status` and `watchdog --once` "
            "return the daemon's health instead (0 healthy, 1 degraded, 2 not running, 3 no heartbeat).",
            "",
            "| command | what it does |",
            "|---|---|",
            *[f"| [`{name}`](#{_anchor(sub.prog)}) | {_cell(summary)} |" for name, summary, sub in commands],
            "",
        ]
        for name, summary, sub in commands:
            out += _command(name, summary, sub, 2)
    return "\n".join(out).rstrip() + "\n"


def _anchor(heading: str) -> str:
    return "".join(c for c in heading.lower() if c.isalnum() or c in " -_").replace(" ", "-")


__all__ = ["OWN_PARSERS", "render"]
