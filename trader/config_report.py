"""What `python -m trader config check` prints: the effective configuration as YAML, every secret
masked (a 1Password reference is shown as the reference, with whether it was resolved)."""

from __future__ import annotations

from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

import yaml
from pydantic import SecretStr

from config.loader import mode_source
from config.models import TraderConfig
from config.settings import (
    ENV_PREFIX,
    MASK,
    SECRET_FIELDS,
    TOKEN_VARIABLE,
    Mode,
    Settings,
    redact_database_url,
    variable_name,
)
from trader import cli_alerts


def config_report(
    settings: Settings,
    config: TraderConfig,
    path: Path,
    mode: Mode,
    *,
    unresolved: dict[str, str] | None = None,
    resolved: set[str] | None = None,
) -> dict[str, Any]:
    """The effective configuration as plain data, every secret masked."""
    unresolved = unresolved or {}
    resolved = resolved or set()
    report: dict[str, Any] = {
        "mode": mode.value,
        "mode_from": mode_source(settings, str(path)),
        "config_file": str(path),
    }
    if mode is Mode.LIVE:
        report["live_opt_in"] = (
            f"yes ({ENV_PREFIX}ALLOW_LIVE=true)"
            if settings.allow_live
            else f"not given: `run` needs --allow-live or {ENV_PREFIX}ALLOW_LIVE=true"
        )
    report["settings"] = {
        variable_name(name): _setting_shown(name, getattr(settings, name), unresolved, resolved)
        for name in Settings.model_fields
    }
    report["engine"] = config.engine.model_dump()
    report["simulator"] = config.simulator.model_dump()
    report["risk"] = config.risk.model_dump()
    report["alerts"] = cli_alerts.alerts_report(settings, config)
    report["symbols"] = [
        {
            "symbol": entry.symbol,
            "strategy": entry.strategy,
            "order_notional_usdt": entry.order_notional_usdt,
            "params": entry.validated_params.model_dump(),
            "risk": config.risk_for(entry.symbol).model_dump(),
        }
        for entry in config.symbols
    ]
    return report


def _setting_shown(name: str, value: Any, unresolved: dict[str, str], resolved: set[str]) -> Any:
    if name in unresolved:
        return f"{unresolved[name]} (1Password; not resolved: {TOKEN_VARIABLE} is not set)"
    suffix = " (from 1Password)" if name in resolved else ""
    if name == "database_url":
        return redact_database_url(value) + suffix
    if name in SECRET_FIELDS or isinstance(value, SecretStr):
        return None if value is None else MASK + suffix
    return value


class _ReportDumper(yaml.SafeDumper):
    """YAML for humans: Decimals as plain numbers, paths and enums as text, no &anchors."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _decimal(dumper: yaml.SafeDumper, value: Decimal) -> yaml.ScalarNode:
    text = format(value, "f")
    tag = "tag:yaml.org,2002:float" if "." in text else "tag:yaml.org,2002:int"
    return dumper.represent_scalar(tag, text)


def _text(dumper: yaml.SafeDumper, value: Any) -> yaml.ScalarNode:
    return dumper.represent_str(str(value.value if isinstance(value, Enum) else value))


_ReportDumper.add_representer(Decimal, _decimal)
_ReportDumper.add_multi_representer(Path, _text)
_ReportDumper.add_multi_representer(Enum, _text)


def report_yaml(report: dict[str, Any]) -> str:
    """The report as YAML for humans."""
    return yaml.dump(report, Dumper=_ReportDumper, sort_keys=False, allow_unicode=True)


__all__ = ["config_report", "report_yaml"]
