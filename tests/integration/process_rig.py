"""The daemon as a real process (`python -m trader run`) against a simulator served by the test.

Tests of signals, crashes and commands that act on a running daemon from outside need it to be a
separate process; the simulator stays in the test process, so the venue outlives the daemon and
can be asked what really happened.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

from core.client_ids import client_order_id_for
from simulator.auth import DEFAULT_API_KEY, DEFAULT_API_SECRET
from tests.integration.venue import Venue

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "config" / "config.yaml"


def our_client_id(name: str) -> str:
    """A client id with this daemon's prefix, as its risk gate would derive one."""
    return client_order_id_for(f"process-rig:{name}")


class DaemonProcess:
    """One `python -m trader run` process with its own folders, pointed at `venue`."""

    def __init__(self, tmp_path: Path, venue: Venue, *, config_text: str | None = None, **env: str) -> None:
        self.tmp_path = tmp_path
        self.db_file = tmp_path / "trader.db"
        self.heartbeat_file = tmp_path / "status" / "heartbeat.json"
        self.config = tmp_path / "config.yaml"
        self.config.write_text(config_text if config_text is not None else SHIPPED.read_text())
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("TRADER_", "OP_SERVICE_ACCOUNT"))},
            "TRADER_MODE": "sim",
            "TRADER_REST_URL": venue.endpoints.rest_url,
            "TRADER_STREAM_URL": venue.endpoints.stream_url,
            "TRADER_API_KEY": DEFAULT_API_KEY,
            "TRADER_API_SECRET": DEFAULT_API_SECRET,
            "TRADER_DATABASE_URL": f"sqlite:///{self.db_file}",
            "TRADER_STATUS_DIR": str(tmp_path / "status"),
            "TRADER_LOG_DIR": str(tmp_path / "logs"),
            **env,
        }
        self.process: asyncio.subprocess.Process | None = None
        self.output = b""
        self._reader: asyncio.Task[None] | None = None

    async def start(self, *args: str) -> None:
        """Start the daemon (not waiting for it to be up: see `wait_running`)."""
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "trader", "run", "--config", str(self.config), *args,
            cwd=ROOT, env=self.env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        while chunk := await self.process.stdout.read(65536):
            self.output += chunk

    def heartbeat(self) -> dict[str, Any] | None:
        """The newest heartbeat, or None."""
        try:
            document = json.loads(self.heartbeat_file.read_text())
        except (OSError, ValueError):
            return None
        return document if isinstance(document, dict) else None

    async def wait_running(self, within: float = 60.0) -> dict[str, Any]:
        """Wait for a heartbeat of this process saying `running` after a reconciliation."""
        assert self.process is not None
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.process.returncode is not None:
                raise AssertionError(
                    f"the daemon exited with {self.process.returncode}:\n{self.text()[-3000:]}"
                )
            document = self.heartbeat()
            if (
                document is not None
                and document.get("pid") == self.process.pid
                and document.get("state") == "running"
                and (document.get("reconciliation") or {}).get("runs", 0) >= 1
            ):
                return document
            await asyncio.sleep(0.1)
        raise AssertionError(f"the daemon was not running within {within}s:\n{self.text()[-3000:]}")

    def signal(self, sig: signal.Signals) -> None:
        """Send `sig` to the daemon."""
        assert self.process is not None
        self.process.send_signal(sig)

    async def wait_exit(self, within: float = 30.0) -> int:
        """Wait for the daemon to exit; its exit code."""
        assert self.process is not None
        code = await asyncio.wait_for(self.process.wait(), within)
        if self._reader is not None:
            await asyncio.wait_for(self._reader, 5)
        return code

    async def kill(self) -> None:
        """SIGKILL, if it still runs."""
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.wait_exit()

    def text(self) -> str:
        """Everything the daemon printed."""
        return self.output.decode(errors="replace")

    def rows(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        """Rows of a query on the daemon's database (read-only)."""
        with sqlite3.connect(f"file:{self.db_file}?mode=ro", uri=True) as connection:
            return connection.execute(sql, params).fetchall()


async def cleanup(*daemons: DaemonProcess) -> None:
    """Kill whatever is left running (a failed test must not leave a daemon behind)."""
    for daemon in daemons:
        await daemon.kill()


__all__ = ["SHIPPED", "DaemonProcess", "cleanup", "our_client_id"]
