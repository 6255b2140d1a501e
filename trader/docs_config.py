"""docs/configuration.md, generated: every YAML key and every environment variable, from the models.

The keys, types and defaults come from the pydantic models themselves (`config/models.py`, every
registered strategy's `Params`, `config/settings.py`), walked recursively, so a key added to a
model appears after `python -m trader docs generate` with nothing else to do. A key's meaning is,
in this order:

- YAML keys: the field's `description=`; else the comment on (or the comment lines just above) the
  key in the shipped config/config.yaml; else the comment on (or just above) the field in its
  model's source;
- environment variables: the comment block above the variable in .env.example; else the field's
  `description=`; else the comment in config/settings.py.

Paths inside the project are written relative to it, so the file is the same in every clone.
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Iterator
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

import annotated_types
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from config.models import TraderConfig
from config.settings import ENV_PREFIX, PROJECT_ROOT, Settings, variable_name
from strategies.registry import available, get_strategy

SHIPPED_CONFIG = PROJECT_ROOT / "config" / "config.yaml"
ENV_EXAMPLE = PROJECT_ROOT / ".env.example"
# Variables read outside Settings, and what they do (the generator lists any other it finds too).
OTHER_VARIABLES: dict[str, str] = {
    "SIM_API_KEY": "API key the built-in simulator accepts (`python -m trader simulator`); not a Binance key",
    "SIM_API_SECRET": "API secret the built-in simulator accepts; not a Binance secret",
    "TRADER_TEST_POSTGRES_URL": "tests only: the PostgreSQL server the test suite creates its databases on",
    "TRADER_TEST_CRASH_AT": "tests only: the crash point at which the daemon kills itself (tests/crash)",
    "TRADER_TEST_CRASH_AFTER": "tests only: crash the Nth time the crash point is reached",
}
_SCANNED = ("config", "core", "utils", "database", "strategies", "simulator", "executor", "trader",
            "backtest", "alerts", "dashboard")  # fmt: skip
_VARIABLE = re.compile(r"\b((?:TRADER|SIM)_[A-Z][A-Z0-9_]*[A-Z0-9])\b")


# --- meanings from comments -------------------------------------------------------------------------


def yaml_comments(text: str) -> dict[str, str]:
    """Comments of a YAML file by key path (`engine.warmup_candles`, `symbols[].risk.allocation`):
    the comment on the key's line, after the comment lines just above it."""
    found: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    above: list[str] = []
    for raw in text.splitlines():
        stripped = raw.strip()
        if not stripped:
            above = []
            continue
        if stripped.startswith("#"):
            above.append(stripped.lstrip("#").strip())
            continue
        indent = len(raw) - len(raw.lstrip())
        item = stripped.startswith("- ")
        body = stripped[2:] if item else stripped
        match = re.match(r"([A-Za-z_][\w-]*)\s*:(.*)$", body)
        if match is None:
            above = []
            continue
        key, rest = match.groups()
        depth = indent + 2 if item else indent
        while stack and stack[-1][0] >= depth:
            stack.pop()
        if item and stack:
            stack[-1] = (stack[-1][0], stack[-1][1].removesuffix("[]") + "[]")
        path = ".".join([name for _, name in stack] + [key])
        inline = rest.split(" #", 1)[1].strip() if " #" in rest else ""
        meaning = " ".join([*above, inline]).strip()
        if meaning:
            found[path] = meaning
        stack.append((depth, key))
        above = []
    return found


def env_comments(text: str) -> dict[str, str]:
    """Comments of a `.env` example by variable: the comment block just above each group of
    variables, else the title of its section (`# --- alerts (Slack): ... ---`)."""
    found: dict[str, str] = {}
    block: list[str] = []
    section = ""
    after_variable = False
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            block, after_variable = [], False
        elif line.startswith("# ---"):
            section = line.strip("#- ").strip()
            block, after_variable = [], False
        elif line.startswith("#"):
            if after_variable:
                block, after_variable = [], False
            block.append(line.lstrip("#").strip())
        elif "=" in line:
            name = line.split("=", 1)[0].strip()
            meaning = " ".join(block) or section
            if meaning:
                found[name] = meaning
            after_variable = True
    return found


def source_comments(cls: type) -> dict[str, str]:
    """Comments on (or on the lines just above) each field of a class, from its source."""
    try:
        lines = inspect.getsource(cls).splitlines()
    except (OSError, TypeError):
        return {}
    found: dict[str, str] = {}
    above: list[str] = []
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("#"):
            above.append(stripped.lstrip("#").strip())
            continue
        match = re.match(r"([a-z_][a-z0-9_]*)\s*:", stripped)
        if match:
            inline = stripped.split("  # ", 1)[1].strip() if "  # " in stripped else ""
            meaning = " ".join([*above, inline]).strip()
            if meaning:
                found[match.group(1)] = meaning
        above = []
    return found


# --- types and defaults -------------------------------------------------------------------------------


def _constraints(metadata: list[Any]) -> list[str]:
    out: list[str] = []
    for item in metadata:
        if isinstance(item, FieldInfo):  # Field(gt=0) inside Annotated[...]
            out += _constraints(list(item.metadata))
            continue
        for attr, symbol in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")):
            value = getattr(item, attr, None)
            if value is not None and isinstance(item, annotated_types.BaseMetadata):
                out.append(f"{symbol} {value}")
        func = getattr(item, "func", None)
        name = getattr(func, "__name__", "")
        out += {"_positive": ["> 0"], "_not_negative": [">= 0"], "_fraction": ["> 0", "<= 1"]}.get(name, [])
        if isinstance(item, annotated_types.MaxLen):
            out.append(f"at most {item.max_length} characters")
        pattern = getattr(item, "pattern", None)
        if isinstance(pattern, str):
            out.append(f"matching `{pattern}`")
    return out


def type_text(annotation: Any, metadata: list[Any] | None = None) -> str:
    """A reader's name for a field's type, with its bounds: `decimal > 0`, `LIMIT | MARKET`."""
    metadata = list(metadata or [])
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        base, *extra = typing.get_args(annotation)
        return type_text(base, [*extra, *metadata])
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        parts = " or ".join(type_text(a) for a in args)
        text = f"{parts} or null" if len(args) < len(typing.get_args(annotation)) else parts
        return _bounded(text, metadata)
    if origin is typing.Literal:
        return " | ".join(f"`{v}`" for v in typing.get_args(annotation))
    if origin is list:
        (item,) = typing.get_args(annotation) or (Any,)
        return f"list of {type_text(item)}"
    if origin is dict:
        return "mapping"
    if isinstance(annotation, type):
        if issubclass(annotation, Enum):
            return " | ".join(f"`{member.value}`" for member in annotation)
        if issubclass(annotation, BaseModel):
            return "section"
        names = {bool: "true/false", int: "integer", float: "number", Decimal: "decimal", str: "text",
                 Path: "path", SecretStr: "secret text"}  # fmt: skip
        return _bounded(names.get(annotation, annotation.__name__), metadata)
    return _bounded(str(annotation).replace("typing.", ""), metadata)


def _bounded(text: str, metadata: list[Any]) -> str:
    bounds = _constraints(metadata)
    return f"{text} {', '.join(bounds)}" if bounds else text


def shown_value(value: Any) -> str:
    """A default as the user would write it; paths inside the project relative to it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, dict | list) and not value:
        return "{}" if isinstance(value, dict) else "[]"
    text = str(value)
    root = str(PROJECT_ROOT)
    if text.startswith(root + "/"):
        return text[len(root) + 1 :]
    return text.replace(root, "<project>")


def default_text(field: FieldInfo) -> str:
    """The default of a field, `required` when there is none."""
    if field.default is not PydanticUndefined:
        value = field.default
    elif field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
    else:
        return "**required**"
    return "its keys' defaults" if isinstance(value, BaseModel) else f"`{shown_value(value)}`"


# --- rendering ----------------------------------------------------------------------------------------


def prose(text: str) -> str:
    """Markdown-safe text: `<name>` outside code spans would be taken for HTML and vanish."""
    parts = text.split("`")
    for i in range(0, len(parts), 2):
        parts[i] = re.sub(r"<(?=[A-Za-z/])", "&lt;", parts[i])
    return "`".join(parts)


def cell(text: str) -> str:
    """One table cell: one line, pipes escaped, Markdown-safe."""
    return prose(" ".join(text.split()).replace("|", "\\|"))


def _nested(annotation: Any) -> tuple[type[BaseModel], str] | None:
    """(model, path suffix) when a field holds a section, a list of them or a mapping of them."""
    for arg in (annotation, *typing.get_args(annotation)):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            origin = typing.get_origin(annotation)
            return arg, "[]" if origin is list else ".<name>" if origin is dict else ""
    return None


def model_sections(
    model: type[BaseModel], path: str, comments: dict[str, str]
) -> Iterator[tuple[str, type[BaseModel], list[tuple[str, str, str, str]]]]:
    """(path, model, rows of key/type/default/meaning) for `model` and every section inside it."""
    own = source_comments(model)
    rows: list[tuple[str, str, str, str]] = []
    children: list[tuple[str, type[BaseModel]]] = []
    for name, field in model.model_fields.items():
        key = f"{path}.{name}" if path else name
        meaning = field.description or _comment(comments, key) or own.get(name) or ""
        nested = _nested(field.annotation)
        if nested is not None:
            meaning = meaning or _doc_line(nested[0])
            child_path = key + nested[1]
            meaning = f"{meaning} (see [`{child_path}`](#{_anchor(child_path)}))".strip()
            children.append((child_path, nested[0]))
        rows.append((name, type_text(field.annotation, field.metadata), default_text(field), meaning))
    yield path, model, rows
    for child_path, child in children:
        keyed = getattr(child, "documented_keys", None)
        if keyed is not None:  # a mapping whose keys are a fixed set (alert kinds): one row each
            yield child_path.removesuffix(".<name>"), child, keyed()
        yield from model_sections(child, child_path, comments)


def _comment(comments: dict[str, str], key: str) -> str:
    """The comment of `key`, else of the same key at a shorter path (a symbol's `risk.x` is
    documented at the global `risk.x`)."""
    parts = key.split(".")
    for start in range(len(parts)):
        found = comments.get(".".join(parts[start:]))
        if found:
            return found
    return ""


def _anchor(path: str) -> str:
    return re.sub(r"[^a-z0-9 _-]", "", path.lower()).replace(" ", "-")


def _table(rows: list[tuple[str, str, str, str]], first: str) -> list[str]:
    out = [f"| {first} | type | default | meaning |", "|---|---|---|---|"]
    out += [f"| `{k}` | {cell(t)} | {cell(d)} | {cell(m)} |" for k, t, d, m in rows]
    return out


def _doc_line(cls: type) -> str:
    return (inspect.getdoc(cls) or "").split("\n\n")[0].replace("\n", " ")


def yaml_part() -> list[str]:
    """The YAML keys, one table per section."""
    comments = yaml_comments(SHIPPED_CONFIG.read_text(encoding="utf-8"))
    out = ["## The YAML file", ""]
    for path, model, rows in model_sections(TraderConfig, "", comments):
        out += [f"### {f'`{path}`' if path else 'Top level'}", "", _doc_line(model), ""]
        out += [*_table(rows, "key"), ""]
    return out


def strategies_part() -> list[str]:
    """Each registered strategy's `params:`."""
    out = ["## Strategy parameters (`symbols[].params`)", "",
           "Every key is optional; a key the strategy does not know is an error.", ""]  # fmt: skip
    for name in available():
        cls = get_strategy(name)
        out += [f"### `strategy: {name}`", "", _doc_line(cls), ""]
        for _, _, rows in model_sections(cls.Params, "", {}):
            out += [*_table(rows, "key"), ""]
    return out


def settings_part() -> list[str]:
    """Every environment variable: Settings' fields, then the others the code reads."""
    notes = env_comments(ENV_EXAMPLE.read_text(encoding="utf-8")) if ENV_EXAMPLE.exists() else {}
    own = source_comments(Settings)
    rows = []
    for name, field in Settings.model_fields.items():
        variable = variable_name(name)
        meaning = notes.get(variable) or field.description or own.get(name) or ""
        rows.append((variable, type_text(field.annotation, field.metadata), default_text(field), meaning))
    out = ["## Environment variables", "",
           f"Read from the environment or the project's `.env` (the environment wins; an empty value "
           f"means not set). Every one but the 1Password token starts with `{ENV_PREFIX}`. A secret "
           "may be a 1Password reference (`op://vault/item/field`), resolved at start-up with "
           "`OP_SERVICE_ACCOUNT_TOKEN`.", ""]  # fmt: skip
    out += [*_table(rows, "variable"), ""]
    known = {variable for variable, *_ in rows}
    others = {name: text for name, text in OTHER_VARIABLES.items() if name not in known}
    for name in sorted(_variables_in_code() - known - others.keys()):
        others[name] = "read by the code; not described yet"
    out += ["### Other variables", "", "| variable | meaning |", "|---|---|"]
    out += [f"| `{name}` | {cell(text)} |" for name, text in sorted(others.items())]
    return [*out, ""]


def _variables_in_code() -> set[str]:
    found: set[str] = set()
    for package in _SCANNED:
        for path in sorted((PROJECT_ROOT / package).rglob("*.py")):
            found.update(_VARIABLE.findall(path.read_text(encoding="utf-8")))
    return {name for name in found if not name.endswith("_")}


def render() -> str:
    """The whole of docs/configuration.md."""
    head = [
        "# Configuration reference",
        "",
        "<!-- Generated by `python -m trader docs generate` from config/models.py, the strategies' "
        "Params, config/settings.py, config/config.yaml and .env.example. Do not edit by hand: "
        "tests/docs/test_generated_docs.py fails when this file is out of date. -->",
        "",
        "Two sources: **what to trade** in the YAML file (`config/config.yaml`, or `--config PATH` / "
        "`TRADER_CONFIG`), and **this machine's settings and secrets** in environment variables "
        "(or `.env`). `python -m trader config check` validates both and prints the result with "
        "every secret redacted. A mistake is one line naming the file, the key and the problem "
        "(exit code 2). Every section of the YAML forbids unknown keys, so a typo is an error.",
        "",
        "Numbers of money and limits are exact decimals (`0.4` is exactly 0.4). Editing `symbols:` "
        "while the daemon runs is applied without a restart (README, *Changing symbols while it "
        "runs*); other sections are read at start-up.",
        "",
    ]
    return "\n".join([*head, *yaml_part(), *strategies_part(), *settings_part()]).rstrip() + "\n"


__all__ = ["cell", "env_comments", "prose", "render", "source_comments", "type_text", "yaml_comments"]
