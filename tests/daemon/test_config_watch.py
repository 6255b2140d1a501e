"""A config edit is noticed, validated, and applied, or rejected with the running config kept."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import pytest

from config.loader import load_config
from config.models import TraderConfig
from trader.config_watch import ConfigWatcher, diff_symbols

SHIPPED = Path(__file__).resolve().parents[2] / "config" / "config.yaml"


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    shutil.copy(SHIPPED, path)
    return path


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


async def test_an_unchanged_file_is_not_reloaded(config_file: Path) -> None:
    applied: list[TraderConfig] = []

    async def apply(config: TraderConfig) -> None:
        applied.append(config)

    watcher = ConfigWatcher(config_file, apply)
    await watcher.prime()
    assert await watcher.check() is False
    assert applied == []


async def test_adding_removing_and_changing_symbols_is_detected(config_file: Path) -> None:
    before = load_config(config_file)
    applied: list[TraderConfig] = []

    async def apply(config: TraderConfig) -> None:
        applied.append(config)

    watcher = ConfigWatcher(config_file, apply)
    await watcher.prime()
    _edit(config_file, "  - symbol: ADAUSDT", "  - symbol: BTCUSDT")
    _edit(config_file, "band_k: 2.0\n      exit_band_k", "band_k: 2.5\n      exit_band_k")
    assert await watcher.check() is True
    changes = diff_symbols(before, applied[-1])
    assert changes.added == ("BTCUSDT",)
    assert changes.removed == ("ADAUSDT",)
    assert changes.changed == ("WLDUSDT",)


async def test_an_invalid_edit_is_rejected_with_the_one_line_error(config_file: Path) -> None:
    applied: list[TraderConfig] = []

    async def apply(config: TraderConfig) -> None:
        applied.append(config)

    watcher = ConfigWatcher(config_file, apply)
    await watcher.prime()
    _edit(config_file, "max_exposure_usdt: 1000", "max_exposure_usdt: -5")
    assert await watcher.check() is False
    assert applied == []
    assert watcher.rejected == 1
    assert watcher.last_error == f"{config_file}: symbols[1].risk.max_exposure_usdt: must be > 0, got -5"
    # Fixing the file applies it.
    _edit(config_file, "max_exposure_usdt: -5", "max_exposure_usdt: 900")
    assert await watcher.check() is True
    assert applied[-1].risk_for("ADAUSDT").max_exposure_usdt == 900


async def test_sighup_forces_a_check(config_file: Path) -> None:
    import asyncio

    applied: list[TraderConfig] = []

    async def apply(config: TraderConfig) -> None:
        applied.append(config)

    watcher = ConfigWatcher(config_file, apply, interval_s=3600)  # only SIGHUP can wake it
    await watcher.prime()
    watcher.install_sighup()
    task = asyncio.create_task(watcher.run())
    try:
        await asyncio.sleep(0.05)
        os.kill(os.getpid(), signal.SIGHUP)
        for _ in range(100):
            if applied:
                break
            await asyncio.sleep(0.02)
        assert len(applied) == 1, "SIGHUP reloads even an unchanged file"
    finally:
        task.cancel()
        watcher.remove_sighup()
