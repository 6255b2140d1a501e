"""Load settings and the YAML configuration, turning every mistake into one `ConfigError` line.

The line names the file, the key path and the problem, e.g.
`config/config.yaml: symbols[1].risk.max_exposure_usdt: must be > 0, got -5`, so `config check`,
`run` and the live config watcher all report a bad edit the same way, without a traceback.
"""

from __future__ import annotations

import difflib
import os
import types
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from config.models import TraderConfig
from config.settings import ENV_FILE, ENV_PREFIX, Mode, Settings, variable_name
from core.errors import ConfigError

_MAX_ALLOWED_LIST = 200  # characters; a longer list of allowed keys points to the shipped file instead


def load_config(path: Path) -> TraderConfig:
    """Read, parse and validate the YAML file at `path`, strategy parameters included.

    Raises ConfigError whose source is `path` as given. Each symbol's `validated_params` is the
    strategy's `Params` instance.
    """
    source = str(path)
    data = _read_yaml(path, source)
    if data is None:
        raise ConfigError(source, "", "the file is empty; see the shipped config/config.yaml")
    if not isinstance(data, dict):
        raise ConfigError(source, "", f"expected a mapping of keys at the top level, got {_show(data)}")
    try:
        config = TraderConfig.model_validate(data)
    except ValidationError as exc:
        raise _config_error(source, TraderConfig, exc.errors(), prefix=()) from None
    _validate_strategies(source, config)
    return config


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment and `.env`; a bad value raises ConfigError naming the variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else ""
        variable = variable_name(field) if field in Settings.model_fields else field
        env_file = overrides.get("_env_file", ENV_FILE)
        where = "environment" if _in_environment(variable) else str(env_file)
        raise ConfigError(where, variable, _problem(error, Settings)) from None


def effective_mode(settings: Settings, config: TraderConfig) -> Mode:
    """TRADER_MODE when set, else the YAML's `mode:`."""
    return settings.mode if settings.mode is not None else config.mode


def mode_source(settings: Settings, config_source: str) -> str:
    """Where the effective mode comes from, for messages: `TRADER_MODE` or the config file."""
    return f"{ENV_PREFIX}MODE" if settings.mode is not None else config_source


def check_live_opt_in(mode: Mode, settings: Settings, flag: bool, *, config_source: str = "config") -> None:
    """Refuse mode live (real money) unless `--allow-live` (`flag`) or TRADER_ALLOW_LIVE=true."""
    if mode is not Mode.LIVE or flag or settings.allow_live:
        return
    source, key = (
        ("environment", f"{ENV_PREFIX}MODE") if settings.mode is Mode.LIVE else (config_source, "mode")
    )
    raise ConfigError(
        source,
        key,
        "mode live trades real money and needs an explicit opt-in: "
        f"pass --allow-live to `python -m trader run` or set {ENV_PREFIX}ALLOW_LIVE=true",
    )


def check_credentials(mode: Mode, settings: Settings) -> None:
    """Modes that talk to Binance with orders (testnet, live) need an API key and secret."""
    if mode not in (Mode.TESTNET, Mode.LIVE):
        return
    for field in ("api_key", "api_secret"):
        if getattr(settings, field) is None:
            variable = f"{ENV_PREFIX}{field.upper()}"
            raise ConfigError(
                "environment", variable, f"required in mode {mode.value}; set it in .env or the environment"
            )


# --- YAML ---------------------------------------------------------------------------------------


class _DuplicateKey(yaml.YAMLError):
    def __init__(self, key: Any, line: int) -> None:
        super().__init__(f"duplicate key {key!r} at line {line} (each key may appear once)")


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects a key given twice (PyYAML would silently keep the last one)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, Hashable) and key in seen:
                raise _DuplicateKey(key, key_node.start_mark.line + 1)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _read_yaml(path: Path, source: str) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(source, "", "file not found (give another one with --config PATH)") from None
    except IsADirectoryError:
        raise ConfigError(source, "", "is a directory, not a YAML file") from None
    except UnicodeDecodeError:
        raise ConfigError(source, "", "is not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(source, "", f"cannot read the file: {exc.strerror or exc}") from None
    try:
        return yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass: no arbitrary objects
    except _DuplicateKey as exc:
        raise ConfigError(source, "", str(exc)) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}" if mark is not None else ""
        reason = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(source, "", f"YAML syntax error{where}: {reason}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(source, "", f"YAML syntax error: {exc}") from None


# --- strategies ---------------------------------------------------------------------------------


def _validate_strategies(source: str, config: TraderConfig) -> None:
    # Imported here: the registry imports every built-in strategy, which `config` itself never needs.
    from strategies.registry import available, get_strategy

    for index, entry in enumerate(config.symbols):
        try:
            strategy = get_strategy(entry.strategy)
        except KeyError:
            known = ", ".join(available()) or "none"
            problem = f"unknown strategy {entry.strategy!r} (available: {known})"
            raise ConfigError(source, f"symbols[{index}].strategy", problem) from None
        params_model: type[BaseModel] = strategy.Params
        try:
            params = params_model.model_validate(entry.params)
        except ValidationError as exc:
            raise _config_error(
                source, params_model, exc.errors(), prefix=("symbols", index, "params")
            ) from None
        entry._validated_params = params


# --- pydantic errors -> one line ----------------------------------------------------------------


def _config_error(
    source: str, root: type[BaseModel], errors: Sequence[ErrorDetails], *, prefix: tuple[str | int, ...]
) -> ConfigError:
    """The first validation error as a ConfigError (one line is the contract, so one error)."""
    error = errors[0]
    loc = tuple(error["loc"])
    extra_at = (error.get("ctx") or {}).get("at")
    if isinstance(extra_at, tuple):
        loc = loc + extra_at  # a problem found by a list-level validator, located on its element
    problem = _problem(error, _model_at(root, loc[:-1]) if error["type"] == "extra_forbidden" else None)
    return ConfigError(source, key_path(prefix + loc), problem)


def key_path(loc: Sequence[str | int]) -> str:
    """`("symbols", 1, "risk", "x")` -> `symbols[1].risk.x`."""
    text = ""
    for part in loc:
        if part == "[key]":  # pydantic's marker for a mapping's key (the bad key is the part before)
            continue
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _problem(error: ErrorDetails, parent: type[BaseModel] | None) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    value = error.get("input")
    got = f", got {_show(value)}"
    if kind == "config":
        return error["msg"]
    if kind == "missing":
        return "missing required key"
    if kind == "extra_forbidden":
        return "unknown key" + _allowed_hint(str(error["loc"][-1]) if error["loc"] else "", parent)
    bounds = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}
    if kind in bounds:
        limit = next(iter(ctx.values())) if ctx else "?"
        return f"must be {bounds[kind]} {limit}{got}"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return "expected a whole number" + got
    if kind in ("decimal_parsing", "decimal_type", "float_parsing", "float_type"):
        return "expected a number" + got
    if kind == "finite_number":
        return "must be a finite number" + got
    if kind in ("bool_parsing", "bool_type"):
        return "expected true or false" + got
    if kind == "string_type":
        return "expected text" + got
    if kind == "enum":
        return f"expected one of {ctx.get('expected', '?')}{got}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "expected a mapping of keys" + got
    if kind in ("list_type", "tuple_type"):
        return "expected a list" + got
    if kind == "literal_error":
        return f"expected {ctx.get('expected', '?')}{got}"
    message = error["msg"]
    return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def _allowed_hint(key: str, model: type[BaseModel] | None) -> str:
    if model is None:
        return ""
    allowed = list(model.model_fields)
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]}?)"
    listing = ", ".join(allowed)
    if len(listing) <= _MAX_ALLOWED_LIST:
        return f" (allowed: {listing})"
    return " (see the shipped config/config.yaml for the keys)"


def _model_at(root: type[BaseModel], loc: Sequence[str | int]) -> type[BaseModel] | None:
    """The model class that validates the mapping at `loc`, for listing its keys."""
    current: Any = root
    for part in loc:
        current = _strip_optional(current)
        if isinstance(part, int):
            args = get_args(current)
            if get_origin(current) is not list or not args:
                return None
            current = args[0]
        elif isinstance(current, type) and issubclass(current, BaseModel) and part in current.model_fields:
            current = current.model_fields[part].annotation
        else:
            return None
    current = _strip_optional(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _strip_optional(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        rest = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return annotation


def _show(value: Any) -> str:
    """A YAML-ish rendering of a bad value for the message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, str):
        text = value if len(value) <= 60 else value[:57] + "..."
        return repr(text)
    return str(value)


def _in_environment(variable: str) -> bool:
    wanted = variable.upper()
    return any(name.upper() == wanted for name in os.environ)
