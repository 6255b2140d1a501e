"""`doctor` against a standalone simulator named by URL settings: all OK, or one clear FAIL line
for a wrong secret, a stopped venue and an unknown symbol; never a traceback or a secret."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from config.loader import load_config
from config.models import TraderConfig
from config.settings import PROJECT_ROOT, Mode, Settings
from database import migrate
from simulator.auth import DEFAULT_API_KEY, DEFAULT_API_SECRET
from simulator.exchange import SimulatedExchange
from simulator.server import SimulatorServer
from trader.doctor import run_doctor
from utils.clock import ScaledClock, WallClock

from .conftest import DATA

CONFIG = PROJECT_ROOT / "config" / "config.yaml"
WRONG_SECRET = "wrongSecret" + "x" * 53


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('doctor') / 'trader.db'}"
    migrate.upgrade(url)
    return url


@pytest.fixture
def config() -> TraderConfig:
    return load_config(CONFIG)  # WLDUSDT and ADAUSDT


async def start_sim(symbols: list[str]) -> SimulatorServer:
    clock = ScaledClock(WallClock().now_ms())
    exchange = SimulatedExchange.from_data(Path(DATA), start_ms=clock.now_ms(), symbols=symbols)
    server = SimulatorServer(exchange, clock, tick_ms=20)
    await server.start()
    return server


@pytest.fixture
async def sim() -> AsyncIterator[SimulatorServer]:
    server = await start_sim(["ADAUSDT", "WLDUSDT"])
    try:
        yield server
    finally:
        await server.stop()


def settings_for(server: SimulatorServer, database_url: str, secret: str = DEFAULT_API_SECRET) -> Settings:
    return Settings(
        _env_file=None, mode=Mode.SIM, rest_url=server.rest_url, stream_url=server.stream_url,
        api_key=DEFAULT_API_KEY, api_secret=secret, database_url=database_url,
    )


async def doctor(settings: Settings, config: TraderConfig) -> tuple[int, list[str]]:
    lines: list[str] = []
    code = await run_doctor(settings, config, out=lines.append, stream_timeout_s=3.0, request_timeout_s=2.0)
    return code, lines


async def test_all_checks_pass_against_a_standalone_simulator(
    sim: SimulatorServer, database_url: str, config: TraderConfig
) -> None:
    code, lines = await doctor(settings_for(sim, database_url), config)
    assert code == 0, lines
    checks = [line.split(":")[0] for line in lines]
    assert checks == [
        "OK   venue reachable", "OK   server time", "OK   symbols", "OK   api keys", "OK   position mode",
        "OK   balance", "OK   market stream", "OK   user-data stream", "OK   database",
    ]


async def test_wrong_secret_is_one_fail_line(
    sim: SimulatorServer, database_url: str, config: TraderConfig
) -> None:
    code, lines = await doctor(settings_for(sim, database_url, secret=WRONG_SECRET), config)
    assert code == 1
    fails = [line for line in lines if line.startswith("FAIL")]
    assert len(fails) == 1 and fails[0].startswith("FAIL api keys:") and "-1022" in fails[0]
    assert " — " in fails[0] and "TRADER_API_SECRET" in fails[0]
    assert not any(WRONG_SECRET in line or DEFAULT_API_KEY in line for line in lines)


async def test_stopped_venue_is_one_fail_line(database_url: str, config: TraderConfig) -> None:
    server = await start_sim(["ADAUSDT", "WLDUSDT"])
    await server.stop()
    code, lines = await doctor(settings_for(server, database_url), config)
    assert code == 1
    fails = [line for line in lines if line.startswith("FAIL")]
    assert len(fails) == 1 and fails[0].startswith("FAIL venue reachable:"), lines
    assert lines[-1].startswith("OK   database")


async def test_unknown_symbol_is_one_fail_line(database_url: str, config: TraderConfig) -> None:
    server = await start_sim(["ADAUSDT"])
    try:
        code, lines = await doctor(settings_for(server, database_url), config)
    finally:
        await server.stop()
    assert code == 1
    fails = [line for line in lines if line.startswith("FAIL")]
    assert fails == [
        "FAIL symbols: not traded on this venue: WLDUSDT — remove them from symbols: in the configuration "
        "or fix their spelling"
    ]


async def test_cli_doctor_wrong_secret_exits_1_without_traceback(
    sim: SimulatorServer, database_url: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADER_")}
    env.update(TRADER_MODE="sim", TRADER_REST_URL=sim.rest_url, TRADER_STREAM_URL=sim.stream_url,
               TRADER_API_KEY=DEFAULT_API_KEY, TRADER_API_SECRET=WRONG_SECRET,
               TRADER_DATABASE_URL=database_url, TRADER_LOG_DIR=str(Path(database_url[10:]).parent))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "trader", "doctor", "--config", str(CONFIG), cwd=PROJECT_ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    text = out.decode() + err.decode()
    assert proc.returncode == 1, text
    assert "Traceback" not in text and WRONG_SECRET not in text
    fails = [line for line in out.decode().splitlines() if line.startswith("FAIL")]
    assert len(fails) == 1 and fails[0].startswith("FAIL api keys:")
