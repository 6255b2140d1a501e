"""Known secrets, a config error and an exchange error: the secrets appear in no output, log or row."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from tests.integration.venue import simulated_venue

ROOT = Path(__file__).resolve().parents[2]
SECRETS = {
    "TRADER_API_KEY": "KEYzzzqqq0123456789abcdefghij",
    "TRADER_API_SECRET": "SECRETppp9876543210zyxwvutsrq",
    "TRADER_SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T1/B1/WEBHOOKSECRET42",
    "TRADER_SLACK_BOT_TOKEN": "xoxb-1111-2222-TOKENSECRET",
}
pytestmark = pytest.mark.slow


async def _trader(tmp_path: Path, *args: str, **env: str) -> tuple[int, str]:
    full_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TRADER_")},
        **SECRETS,
        "TRADER_DATABASE_URL": f"sqlite:///{tmp_path / 'trader.db'}",
        "TRADER_LOG_DIR": str(tmp_path / "logs"),
        "TRADER_STATUS_DIR": str(tmp_path / "status"),
        **env,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "trader", *args, cwd=ROOT, env=full_env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, output.decode()


def _assert_nowhere(tmp_path: Path, *outputs: str) -> None:
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "trader.log" for p in files)
    for value in SECRETS.values():
        for text in outputs:
            assert value not in text
        for file in files:
            assert value.encode() not in file.read_bytes(), f"secret leaked into {file}"


async def test_a_config_error_and_an_exchange_error_leak_no_secret(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    shipped = (ROOT / "config" / "config.yaml").read_text()
    bad.write_text(shipped.replace("max_exposure_usdt: 1000", "max_exposure_usdt: -5"))
    code, config_output = await _trader(tmp_path, "run", "--config", str(bad), "--duration", "3")
    assert code == 2
    assert "symbols[1].risk.max_exposure_usdt: must be > 0, got -5" in config_output

    async with simulated_venue(speed=60) as venue:
        # The daemon signs with TRADER_API_KEY/SECRET, which this simulator does not accept.
        code, exchange_output = await _trader(
            tmp_path, "run", "--duration", "5",
            TRADER_MODE="sim", TRADER_REST_URL=venue.server.rest_url,
            TRADER_STREAM_URL=venue.server.stream_url,
        )
    assert code == 1
    assert "-2015" in exchange_output or "-1022" in exchange_output
    assert "Traceback" not in exchange_output
    _assert_nowhere(tmp_path, config_output, exchange_output)
