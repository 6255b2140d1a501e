"""deploy/: the systemd units and the example environment file are valid and run real commands.

`systemd-analyze verify` checks every directive when the tool is on the machine (with the unit's
/opt/trader paths pointed at this checkout, since the tool insists that the command exists); the
parsing checks run everywhere: each ExecStart is a `python -m trader` command our own parser
accepts, the exit codes the units rely on are the ones the code returns, and every variable the
units and the example environment file set is one the daemon reads.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from config.models import ShutdownConfig
from config.settings import Settings, variable_name
from trader.cli import EXIT_CONFIG, build_parser
from trader.health import Health

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
INSTALLED = "/opt/trader"
PYTHON = f"{INSTALLED}/.venv/bin/python"
UNITS = (
    "trader.service",
    "trader@.service",
    "trader-watchdog.service",
    "trader-watchdog.timer",
    "trader-watchdog@.service",
    "trader-watchdog@.timer",
    "trader-backup.service",
    "trader-backup.timer",
)
TEMPLATES = {"trader@.service", "trader-watchdog@.service", "trader-watchdog@.timer"}
VARIABLES = {variable_name(name) for name in Settings.model_fields} | {"PYTHONDONTWRITEBYTECODE"}


def parse_unit(path: Path) -> dict[str, list[tuple[str, str]]]:
    """Sections of a unit file, each a list of (key, value) in order (keys may repeat)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        assert current is not None, f"{path.name}:{number}: a setting before any [Section]"
        key, equals, value = line.partition("=")
        assert equals and key.strip() and key.strip().isalnum(), (
            f"{path.name}:{number}: not Key=Value: {raw!r}"
        )
        current.append((key.strip(), value.strip()))
    return sections


def values(section: list[tuple[str, str]], key: str) -> list[str]:
    return [value for k, value in section if k == key]


@pytest.mark.parametrize("name", [u for u in UNITS if u.endswith(".service")])
def test_each_service_runs_a_command_our_parser_accepts_with_the_right_exit_codes(name: str) -> None:
    unit = parse_unit(DEPLOY / name)
    service = unit["Service"]
    assert values(unit["Unit"], "Description")
    [command] = values(service, "ExecStart")
    argv = shlex.split(command)
    assert argv[:3] == [PYTHON, "-m", "trader"], command
    args = build_parser().parse_args(argv[3:])  # exits (SystemExit) on an unknown command or flag
    assert callable(args.handler)
    assert values(service, "User") == ["trader"] and values(service, "WorkingDirectory") == [INSTALLED]
    for assignment in values(service, "Environment"):
        assert assignment.split("=", 1)[0] in VARIABLES, assignment
    assert values(service, "EnvironmentFile"), "settings come from /etc/trader"
    if argv[3] == "run":
        assert values(service, "Restart") == ["on-failure"]
        # A configuration error is not retried: restarting cannot fix the file.
        assert values(service, "RestartPreventExitStatus") == [str(EXIT_CONFIG)]
        assert values(service, "KillSignal") == ["SIGTERM"]  # the graceful shutdown
        assert float(values(service, "TimeoutStopSec")[0]) > ShutdownConfig().timeout_seconds
        assert values(unit["Install"], "WantedBy") == ["multi-user.target"]
    elif argv[3] == "watchdog":
        assert argv[4:] == ["--once"]
        codes = {int(c) for c in values(service, "SuccessExitStatus")[0].split()}
        assert codes == {int(h) for h in Health if h is not Health.HEALTHY}
    else:
        assert argv[3:5] == ["db", "backup"] and args.keep > 0
        assert args.to == Path("/var/lib/trader/backups")  # in StateDirectory, writable by the unit


def _environment(name: str) -> dict[str, str]:
    service = parse_unit(DEPLOY / name)["Service"]
    return dict(a.split("=", 1) for a in values(service, "Environment"))


@pytest.mark.parametrize("name", sorted(u for u in TEMPLATES if u.endswith(".service")))
def test_a_template_keeps_each_instance_apart(name: str) -> None:
    service = parse_unit(DEPLOY / name)["Service"]
    environment = _environment(name)
    for variable in ("TRADER_CONFIG", "TRADER_DATABASE_URL", "TRADER_STATUS_DIR", "TRADER_LOG_DIR"):
        assert "%i" in environment[variable], variable
    assert "%i" in values(service, "EnvironmentFile")[0]
    assert "%i" in values(service, "StateDirectory")[0] and "%i" in values(service, "LogsDirectory")[0]


def test_each_watchdog_watches_where_its_daemon_writes() -> None:
    assert _environment("trader-watchdog@.service") == _environment("trader@.service")
    assert _environment("trader-watchdog.service") == _environment("trader.service")
    assert _environment("trader-backup.service") == _environment("trader.service")


@pytest.mark.parametrize(
    ("timer", "service"),
    [
        ("trader-watchdog.timer", "trader-watchdog.service"),
        ("trader-watchdog@.timer", "trader-watchdog@%i.service"),
        ("trader-backup.timer", "trader-backup.service"),
    ],
)
def test_each_timer_starts_its_service(timer: str, service: str) -> None:
    unit = parse_unit(DEPLOY / timer)
    assert values(unit["Timer"], "Unit") == [service]
    assert (DEPLOY / service.replace("%i", "")).is_file()
    assert values(unit["Install"], "WantedBy") == ["timers.target"]


@pytest.mark.parametrize(
    ("flag", "unit", "instance"),
    [((), "trader.service", ""), (("--instance", "alpha"), "trader@.service", "alpha")],
)
def test_trader_cli_runs_a_command_with_the_units_settings(
    tmp_path: Path, flag: tuple[str, ...], unit: str, instance: str
) -> None:
    # systemd-run is the one piece not run for real here: a stand-in prints what it was given.
    (tmp_path / "systemd-run").write_text('#!/bin/sh\nfor a in "$@"; do echo "$a"; done\n')
    (tmp_path / "systemd-run").chmod(0o755)
    result = subprocess.run(
        ["sh", str(DEPLOY / "trader-cli"), *flag, "status", "--json"],
        env={"PATH": f"{tmp_path}:/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    args = result.stdout.splitlines()
    assert args[-5:] == [PYTHON, "-m", "trader", "status", "--json"]
    given = dict(a.removeprefix("--setenv=").split("=", 1) for a in args if a.startswith("--setenv="))
    assert given == {k: v.replace("%i", instance) for k, v in _environment(unit).items()}
    service = parse_unit(DEPLOY / unit)["Service"]
    properties = [a.removeprefix("--property=") for a in args if a.startswith("--property=")]
    assert f"EnvironmentFile={values(service, 'EnvironmentFile')[0].replace('%i', instance)}" in properties
    assert "User=trader" in properties and f"WorkingDirectory={INSTALLED}" in properties


def test_the_example_environment_file_sets_only_variables_the_daemon_reads_and_no_secret() -> None:
    lines = (DEPLOY / "trader.env.example").read_text(encoding="utf-8").splitlines()
    assignments = [line.split("=", 1) for line in lines if line.strip() and not line.startswith("#")]
    assert assignments
    for name, value in assignments:
        assert name in VARIABLES, f"{name}: not a variable the daemon reads"
        if name in {variable_name(field) for field in ("api_key", "api_secret", "slack_webhook_url")}:
            assert value == "" or value.startswith("op://"), f"{name}: a secret in clear"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_verify_accepts_every_unit(tmp_path: Path) -> None:
    # The tool insists the ExecStart binary exists: point /opt/trader at this checkout, nothing else.
    for name in UNITS:
        text = (DEPLOY / name).read_text(encoding="utf-8")
        text = text.replace(PYTHON, sys.executable).replace(
            f"WorkingDirectory={INSTALLED}", f"WorkingDirectory={ROOT}"
        )
        (tmp_path / name).write_text(text, encoding="utf-8")
    for name in TEMPLATES:
        instance = tmp_path / name.replace("@.", "@alpha.")
        instance.write_text((tmp_path / name).read_text())
    checked = [str(tmp_path / n.replace("@.", "@alpha.")) for n in UNITS]
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *checked], capture_output=True, text=True, timeout=120
    )
    problems = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert result.returncode == 0 and not problems, "\n".join(problems)
