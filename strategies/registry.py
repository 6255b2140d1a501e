"""Strategies by name: the YAML's `strategy: vwap` resolves here.

A strategy registers itself with the `@register` decorator in its own module; the modules listed in
`BUILTIN_MODULES` are imported the first time the registry is asked, so a new strategy is one file
plus one line here plus one config entry. Importing lazily keeps `strategies.base` free of import
cycles (a strategy module imports this one for the decorator).
"""

from __future__ import annotations

import importlib
from typing import TypeVar

from pydantic import BaseModel

from strategies.base import Strategy

BUILTIN_MODULES: tuple[str, ...] = ("strategies.vwap", "strategies.sma_cross")

_S = TypeVar("_S", bound=type[Strategy])
_registry: dict[str, type[Strategy]] = {}
_builtins_loaded = False


def register(cls: _S) -> _S:
    """Class decorator: make `cls` available under `cls.name`.

    Refuses (TypeError) a class without a name, without a pydantic `Params` model that forbids
    unknown keys (a typo in the YAML must be an error, not a silently ignored setting), or whose
    name is taken by another class.
    """
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name:
        raise TypeError(f"{cls.__qualname__} needs a non-empty class attribute `name`")
    params = getattr(cls, "Params", None)
    if not (isinstance(params, type) and issubclass(params, BaseModel)):
        raise TypeError(f"strategy {name!r}: `Params` must be a pydantic BaseModel subclass")
    if params.model_config.get("extra") != "forbid":
        raise TypeError(f"strategy {name!r}: Params needs model_config extra='forbid'")
    try:
        params()
    except Exception as exc:  # a default for every field lets `params: {band_k: 2.0}` work
        raise TypeError(f"strategy {name!r}: every Params field needs a default ({exc})") from exc
    existing = _registry.get(name)
    if existing is not None and existing is not cls:
        raise TypeError(f"strategy name {name!r} is taken by {existing.__module__}.{existing.__qualname__}")
    _registry[name] = cls
    return cls


def _load_builtins() -> None:
    global _builtins_loaded
    if _builtins_loaded:
        return
    for module in BUILTIN_MODULES:
        importlib.import_module(module)
    _builtins_loaded = True


def get_strategy(name: str) -> type[Strategy]:
    """The strategy class registered as `name`; KeyError naming the known ones otherwise."""
    _load_builtins()
    try:
        return _registry[name]
    except KeyError:
        known = ", ".join(available()) or "none"
        raise KeyError(f"unknown strategy {name!r} (available: {known})") from None


def available() -> list[str]:
    """Names of every registered strategy, sorted."""
    _load_builtins()
    return sorted(_registry)
