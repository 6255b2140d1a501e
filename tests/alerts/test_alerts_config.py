"""The `alerts:` section: switches and severities per kind, the summary time, one-line mistakes."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.loader import load_config
from config.models import AlertsConfig
from config.settings import PROJECT_ROOT
from core.alerts import KIND_DEFAULTS, AlertKind, Severity
from core.errors import ConfigError

SHIPPED = PROJECT_ROOT / "config" / "config.yaml"
BASE = SHIPPED.read_text(encoding="utf-8")
SHIPPED_ALERTS = BASE[BASE.index("alerts:") : BASE.index("simulator:")]


def _with_alerts(tmp_path: Path, alerts_yaml: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(BASE.replace(SHIPPED_ALERTS, alerts_yaml + "\n"), encoding="utf-8")
    return path


def _error(tmp_path: Path, alerts_yaml: str) -> str:
    path = _with_alerts(tmp_path, alerts_yaml)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return info.value.line().removeprefix(f"{path}: ")


def test_the_shipped_section_keeps_fills_off_and_everything_else_at_its_default() -> None:
    alerts = load_config(SHIPPED).alerts
    assert alerts.summary_time == (0, 0) and alerts.dedupe_window_seconds == 300
    assert alerts.stream_down_seconds == 30 and alerts.queue_size == 200
    assert not alerts.enabled(AlertKind.FILL)
    for kind in AlertKind:
        if kind is not AlertKind.FILL:
            assert alerts.enabled(kind), kind
        assert alerts.severity(kind, KIND_DEFAULTS[kind].severity) is KIND_DEFAULTS[kind].severity


def test_a_file_without_the_section_gets_the_defaults(tmp_path: Path) -> None:
    assert load_config(_with_alerts(tmp_path, "")).alerts == AlertsConfig()
    assert not AlertsConfig().enabled(AlertKind.FILL)


def test_kinds_switch_on_and_off_and_take_a_severity(tmp_path: Path) -> None:
    path = _with_alerts(
        tmp_path,
        "alerts:\n  daily_summary_utc: 12:30\n  kinds:\n    fill: true\n    risk_limit: {enabled: false}\n"
        "    order_rejected: {severity: critical}\n",
    )
    alerts = load_config(path).alerts
    assert alerts.enabled(AlertKind.FILL) and not alerts.enabled(AlertKind.RISK_LIMIT)
    assert alerts.severity(AlertKind.ORDER_REJECTED, Severity.WARNING) is Severity.CRITICAL
    # YAML 1.1 reads an unquoted 12:30 as the number 750: it still means half past twelve.
    assert alerts.daily_summary_utc == "12:30" and alerts.summary_time == (12, 30)
    assert (
        load_config(_with_alerts(tmp_path, "alerts:\n  daily_summary_utc: null\n")).alerts.summary_time
        is None
    )


@pytest.mark.parametrize(
    ("alerts_yaml", "line"),
    [
        (
            'alerts:\n  daily_summary_utc: "25:00"\n',
            "alerts.daily_summary_utc: expected a UTC time like \"00:00\" (HH:MM, 24 h), got '25:00'",
        ),
        ("alerts:\n  dedupe_window_seconds: 0\n", "alerts.dedupe_window_seconds: must be > 0, got 0"),
        ("alerts:\n  kinds:\n    fill: {severity: loud}\n", "alerts.kinds.fill.severity: expected one of"),
        ("alerts:\n  kinds:\n    fills: true\n", "alerts.kinds.fills: expected one of 'daemon_started', "),
        (
            "alerts:\n  dedupe_window: 60\n",
            "alerts.dedupe_window: unknown key (did you mean dedupe_window_seconds?)",
        ),
    ],
    ids=["bad_time", "zero_window", "bad_severity", "unknown_kind", "unknown_key"],
)
def test_each_mistake_is_one_line_naming_the_key(tmp_path: Path, alerts_yaml: str, line: str) -> None:
    message = _error(tmp_path, alerts_yaml)
    assert message.startswith(line), message
    assert "\n" not in message


def test_an_unknown_kind_lists_the_kinds_there_are(tmp_path: Path) -> None:
    message = _error(tmp_path, "alerts:\n  kinds:\n    fills: true\n")
    assert "'fill'" in message and "'kill_switch'" in message, message
