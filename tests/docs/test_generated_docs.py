"""docs/configuration.md and docs/cli.md are generated from the code and kept up to date.

When a test here fails after adding a key, a variable, a strategy or a command, run
`python -m trader docs generate` and commit the result.
"""

from __future__ import annotations

import argparse
import re
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import pytest
import yaml
from pydantic import BaseModel, ConfigDict, Field

from config.settings import Settings, variable_name
from strategies.registry import available
from trader import cli_docs, docs_cli, docs_config
from trader.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
FIX = "out of date: run `python -m trader docs generate` and commit the result"


def _section(text: str, heading: str) -> str:
    """The text under `heading` up to the next heading of the same or a higher level."""
    level = heading.split(" ", 1)[0]
    start = text.index(heading + "\n")
    rest = text[start + len(heading) + 1 :]
    stop = re.search(rf"^#{{1,{len(level)}}} ", rest, flags=re.MULTILINE)
    return rest[: stop.start()] if stop else rest


@pytest.mark.parametrize("name", ["configuration.md", "cli.md"])
def test_the_generated_file_is_up_to_date(name: str) -> None:
    renders = {path.name: render for path, render in cli_docs.generated().items()}
    on_disk = (ROOT / "docs" / name).read_text(encoding="utf-8")
    assert on_disk == renders[name](), f"docs/{name} is {FIX}"


def test_the_check_option_reports_a_stale_file_and_generate_fixes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli_docs, "DOCS", tmp_path)
    check = argparse.Namespace(check=True)
    assert cli_docs.generate_command(check) == 1  # nothing written yet
    assert cli_docs.generate_command(argparse.Namespace(check=False)) == 0
    assert cli_docs.generate_command(check) == 0
    (tmp_path / "cli.md").write_text("edited by hand\n")
    capsys.readouterr()
    assert cli_docs.generate_command(check) == 1
    assert "cli.md: out of date" in capsys.readouterr().out
    assert (tmp_path / "cli.md").read_text() == "edited by hand\n"  # --check writes nothing


def _yaml_keys(node: Any, path: str = "") -> list[str]:
    keys: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            full = f"{path}.{key}" if path else str(key)
            keys.append(full)
            if key != "params":
                keys += _yaml_keys(value, full)
    elif isinstance(node, list):
        for item in node:
            keys += _yaml_keys(item, f"{path}[]")
    return keys


def test_every_key_of_the_shipped_config_has_a_documented_row_with_a_meaning() -> None:
    text = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    shipped = yaml.safe_load((ROOT / "config" / "config.yaml").read_text(encoding="utf-8"))
    keys = sorted(set(_yaml_keys(shipped)))
    assert "engine.warmup_candles" in keys and "symbols[].risk.max_exposure_usdt" in keys
    for key in keys:
        parent, _, name = key.rpartition(".")
        section = _section(text, f"### `{parent}`" if parent else "### Top level")
        row = re.search(rf"^\| `{re.escape(name)}` \|(.*)\|(.*)\|(.*)\|$", section, flags=re.MULTILINE)
        assert row is not None, f"{key}: no row in docs/configuration.md"
        assert row.group(3).strip(), f"{key}: documented without a meaning"


def test_every_strategy_parameter_and_every_variable_is_documented() -> None:
    text = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    from strategies.registry import get_strategy

    for name in available():
        section = _section(text, f"### `strategy: {name}`")
        for field in get_strategy(name).Params.model_fields:
            assert f"| `{field}` |" in section, f"{name}.{field} missing"
    variables = _section(text, "## Environment variables")
    for field in Settings.model_fields:
        assert f"| `{variable_name(field)}` |" in variables, variable_name(field)


def _commands(parser: argparse.ArgumentParser, prefix: str) -> list[tuple[str, argparse.ArgumentParser]]:
    found = []
    for name, _, sub in docs_cli._subcommands(parser):
        found.append((f"{prefix} {name}", sub))
        found += _commands(sub, f"{prefix} {name}")
    return found


def test_every_command_and_flag_is_in_cli_md() -> None:
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    commands = _commands(build_parser(), "python -m trader")
    names = {name for name, _ in commands}
    assert {"python -m trader run", "python -m trader db backup", "python -m trader db restore"} <= names
    for name, parser in commands:
        heading = next(h for h in (f"## `{name}`", f"### `{name}`", f"#### `{name}`") if h + "\n" in text)
        section = _section(text, heading)
        if name.endswith(" simulator"):
            from simulator.cli import build_parser as simulator_parser

            parser = simulator_parser()
        for action in parser._actions:
            for flag in action.option_strings:
                if flag not in ("-h", "--help"):
                    assert f"`{flag}" in section or f", {flag}" in section, f"{name} {flag} missing"


# --- the generator itself: what another issue adds is picked up with nothing else to do ----------


class _Inner(BaseModel):
    """`inner:`: a nested section."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    depth: int = Field(3, ge=1, le=9)  # how deep it goes


class _Outer(BaseModel):
    """A section another issue might add."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    webhook_retries: int = Field(5, gt=0, description="attempts before giving up")
    # The channel alerts go to.
    channel: str | None = None
    price: Decimal = Decimal("0.5")
    kind: Literal["a", "b"] = "a"
    inner: _Inner = Field(default_factory=_Inner)
    items: list[_Inner] = Field(default_factory=list)
    threshold: float = 1.0


def test_a_new_section_is_documented_from_its_model_and_comments() -> None:
    sections = {path: rows for path, _, rows in docs_config.model_sections(_Outer, "alerts", {
        "alerts.threshold": "from the YAML comment"})}  # fmt: skip
    assert list(sections) == ["alerts", "alerts.inner", "alerts.items[]"]
    rows = {key: (kind, default, meaning) for key, kind, default, meaning in sections["alerts"]}
    assert rows["webhook_retries"] == ("integer > 0", "`5`", "attempts before giving up")
    assert rows["channel"] == ("text or null", "`null`", "The channel alerts go to.")
    assert rows["price"] == ("decimal", "`0.5`", "")
    assert rows["kind"][0] == "`a` | `b`"
    assert rows["threshold"][2] == "from the YAML comment"
    assert "alerts.inner" in rows["inner"][2] and rows["inner"][1] == "its keys' defaults"
    assert sections["alerts.inner"] == [("depth", "integer >= 1, <= 9", "`3`", "how deep it goes")]


def test_meanings_are_read_from_yaml_and_env_comments() -> None:
    comments = docs_config.yaml_comments(
        "# header\n\n# about a\na: 1   # inline\nb:\n  c: 2 # deep\nlist:\n  - x: 1  # first\n    y: 2\n"
    )
    assert comments == {"a": "about a inline", "b.c": "deep", "list[].x": "first"}
    env = docs_config.env_comments(
        "# --- alerts: Slack ---\n\nTRADER_A=\n# one\n# two\nTRADER_B=\nTRADER_C=\n# own\nTRADER_D=1\n"
    )
    assert env == {
        "TRADER_A": "alerts: Slack",  # a section's title, for a variable without its own comment
        "TRADER_B": "one two",
        "TRADER_C": "one two",  # one comment for a group of variables
        "TRADER_D": "own",
    }


def test_no_path_of_this_checkout_leaks_into_the_generated_files() -> None:
    for path, render in cli_docs.generated().items():
        assert str(ROOT) not in render(), f"{path.name} names this clone's folder: it must not depend on it"
