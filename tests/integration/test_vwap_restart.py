"""Issue 13 item 1: after a restart the VWAP is anchored at 00:00 UTC, not at the warm-up's start.

The daemon warmed a strategy up with the last `warmup_candles` (300) candles, so a start at 20:00
UTC had a VWAP and σ of the last five hours only. Now the warm-up reaches the anchor's start and 40
ADX periods before it (`history_needed`), from the database or the venue's klines. Replayed real
data on the simulator: a strategy restarted at 20:00 UTC (its persisted state restored, as the
daemon does) computes every indicator value and makes every decision an uninterrupted run makes;
and the daemon itself, started at 20:00 UTC venue time, loads candles from before 00:00 UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from core.bus import Bus
from core.events import Candle
from database.engine import Database
from database.migrate import upgrade
from strategies.vwap import VwapStrategy
from tests.integration.process_rig import DaemonProcess, cleanup
from tests.integration.venue import Venue, simulated_venue
from trader.market_data import MINUTE_MS, MarketDataService
from utils.clock import ManualClock

SYMBOL = "WLDUSDT"
DAY_START = int(datetime(2026, 11, 20, tzinfo=UTC).timestamp() * 1000)
STARTED = DAY_START + 6 * 60 * MINUTE_MS  # the uninterrupted run starts at 06:00 UTC
RESTARTED = DAY_START + 20 * 60 * MINUTE_MS  # the restart at 20:00 UTC
END = DAY_START + 23 * 60 * MINUTE_MS
CONFIGURED_WARMUP = 300  # engine.warmup_candles
PARAMS = {"band_k": 1.0, "adx_max": 40, "volatility_guard": False}  # wide open: decisions to compare


def _database(path: Path) -> Database:
    url = f"sqlite:///{path}"
    upgrade(url)
    return Database(url)


async def _start(venue: Venue, db: Database, now_ms: int, state: dict[str, Any] | None) -> VwapStrategy:
    """What the daemon's start does for one symbol: restore the state, warm up, on_start."""
    strategy = VwapStrategy(SYMBOL, PARAMS, order_notional=Decimal(200))
    if state is not None:
        strategy.restore_state(state)
    count = max(CONFIGURED_WARMUP, strategy.history_needed(now_ms))
    history = await MarketDataService(venue.gateway, db, Bus(), ManualClock(now_ms)).warm_up(SYMBOL, count)
    strategy.on_start(history)
    return strategy


async def _live(venue: Venue, start: int, end: int) -> list[Candle]:
    candles: list[Candle] = []
    while start < end:
        page = await venue.gateway.klines(SYMBOL, start_time=start, end_time=end - 1, limit=1000)
        candles.extend(c for c in page if c.closed)
        start = page[-1].open_time + MINUTE_MS
    return candles


def _step(strategy: VwapStrategy, candle: Candle) -> tuple[Any, ...]:
    outputs = strategy.on_candle(candle)
    vwap = strategy.vwap
    return (candle.open_time, vwap.vwap, vwap.sigma, vwap.candles, strategy.adx.value,
            strategy.adx.plus_di, strategy.adx.minus_di, outputs)  # fmt: skip


async def test_a_restart_mid_day_computes_and_decides_as_an_uninterrupted_run(tmp_path: Path) -> None:
    async with simulated_venue(speed=1, start_ms=END, symbols=(SYMBOL,)) as venue:
        live = await _live(venue, STARTED, END)
        uninterrupted = await _start(venue, _database(tmp_path / "a.db"), STARTED, None)
        steps: dict[int, tuple[Any, ...]] = {}
        state: dict[str, Any] | None = None
        for candle in live:
            if candle.open_time == RESTARTED:
                state = uninterrupted.snapshot_state()  # what the daemon had persisted
            steps[candle.open_time] = _step(uninterrupted, candle)
        # The restart: a new database (the venue's klines) and the persisted state.
        restarted = await _start(venue, _database(tmp_path / "b.db"), RESTARTED, state)
        assert restarted.vwap.candles == 20 * 60  # since 00:00 UTC, not the last 300
        again = [_step(restarted, c) for c in live if c.open_time >= RESTARTED]
    assert len(again) == 3 * 60
    expected = [steps[s[0]] for s in again]
    differing = [(e, a) for e, a in zip(expected, again, strict=True) if e != a]
    assert differing == [], f"{len(differing)} of {len(again)} candles differ, first: {differing[0]}"
    assert any(s[-1] for s in again), "no decision to compare: widen PARAMS"


async def test_the_daemon_warms_up_from_the_anchor_and_the_adx_before_it(tmp_path: Path) -> None:
    # The daemon as a process, started at 20:00 UTC venue time (it follows the simulator's clock).
    async with simulated_venue(speed=600, start_ms=RESTARTED) as venue:
        daemon = DaemonProcess(tmp_path, venue)
        try:
            await daemon.start()
            await daemon.wait_running()
        finally:
            await cleanup(daemon)
    first = {s: t for s, t in daemon.rows("select symbol, min(open_time) from candles_1m group by symbol")}
    adx_periods = 40 * 14  # 40 periods of the shipped adx_period
    for symbol in ("WLDUSDT", "ADAUSDT"):
        assert first[symbol] <= DAY_START - adx_periods * MINUTE_MS, symbol  # not 15:00 (300 candles)
