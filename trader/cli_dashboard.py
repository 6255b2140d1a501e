"""`python -m trader dashboard`: serve the read-only dashboard (dashboard/app.py) with Streamlit.

It runs `streamlit run` as a child process on 127.0.0.1 by default (`--host`/`--port` or
`TRADER_DASHBOARD_HOST`/`TRADER_DASHBOARD_PORT` to change it), with Streamlit's usage statistics
and file watching off: nothing leaves the machine, nothing reloads behind the user's back. The
dashboard reads the same settings as the daemon, so started next to `make run` it finds its
database and heartbeat. Ctrl-C or SIGTERM stops it.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from config.loader import load_settings
from config.settings import ENV_PREFIX, PROJECT_ROOT
from trader.cli_types import whole_number

APP = PROJECT_ROOT / "dashboard" / "app.py"
EXIT_OK = 0
_STOP_TIMEOUT_S = 10
_port = whole_number("a port number", 1, 65535, bound="must be 1..65535")


def add_parser(sub: Any) -> None:
    """`python -m trader dashboard [--host H] [--port P]`."""
    parser = sub.add_parser(
        "dashboard",
        help="serve the read-only web dashboard (Streamlit) on 127.0.0.1",
        description=(
            "Serve the dashboard: health, positions, PnL, charts, signals and risk decisions, read-only. "
            "It binds 127.0.0.1 unless told otherwise; it has no login, so reach it from another "
            "machine through an SSH tunnel rather than binding a public address."
        ),
    )
    parser.add_argument(
        "--host", default=None, help=f"address to bind (default {ENV_PREFIX}DASHBOARD_HOST or 127.0.0.1)"
    )
    parser.add_argument(
        "--port", type=_port, default=None, help=f"port (default {ENV_PREFIX}DASHBOARD_PORT or 8501)"
    )
    parser.set_defaults(handler=dashboard_command)


def is_loopback(host: str) -> bool:
    """True for an address only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def streamlit_command(host: str, port: int, app: Path = APP) -> list[str]:
    """The `streamlit run` command line: headless, no usage statistics, no file watcher."""
    return [
        sys.executable, "-m", "streamlit", "run", str(app),
        "--server.address", host,
        "--server.port", str(port),
        "--server.headless", "true",
        "--server.fileWatcherType", "none",
        "--server.runOnSave", "false",
        "--browser.gatherUsageStats", "false",
        "--client.toolbarMode", "viewer",
        "--global.developmentMode", "false",
        "--theme.base", "light",
    ]  # fmt: skip


def child_environment() -> dict[str, str]:
    """The environment for the Streamlit process: the project importable from a plain checkout."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def dashboard_command(args: argparse.Namespace) -> int:
    """Run Streamlit until it exits, Ctrl-C or SIGTERM; returns its exit code."""
    settings = load_settings()
    host = args.host or settings.dashboard_host
    port = args.port or settings.dashboard_port
    if not is_loopback(host):
        print(
            f"warning: binding {host}: the dashboard has no login; anyone who can reach {host}:{port} sees"
            " your positions and PnL. Prefer 127.0.0.1 and an SSH tunnel.",
            file=sys.stderr,
        )
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    print(f"dashboard: http://{shown}:{port}  (read-only; Ctrl-C stops it)")
    print(f"  from a laptop: ssh -N -L {port}:127.0.0.1:{port} USER@THIS-SERVER, then http://localhost:{port}")
    sys.stdout.flush()
    process = subprocess.Popen(streamlit_command(host, port), env=child_environment(), cwd=PROJECT_ROOT)
    previous = signal.signal(signal.SIGTERM, lambda *_: process.terminate())
    try:
        return process.wait()
    except KeyboardInterrupt:  # the child got the same Ctrl-C and stops on its own
        try:
            process.wait(timeout=_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        return EXIT_OK
    finally:
        signal.signal(signal.SIGTERM, previous)
