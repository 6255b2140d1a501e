"""`trader parity`: the daemon in sim mode and the backtest on the same candles, compared.

1. The window: `minutes` of 1m candles from `start` (a minute of the shipped data), the
   configuration's symbols whose real data covers it with `engine.warmup_candles` before (the
   others are left out, and the report says so). The configuration is written, so restricted, to
   the run's folder, which the daemon reads and watches.
2. The live run (`parity_live.py`): the daemon, the in-process simulator and the official SDK over
   loopback, on a step clock; its database is read back afterwards.
3. The backtest (`backtest/runner.py`) of the same candles with the same configuration: the
   warm-up candles as history, one more candle after the window so that no end-of-backtest rule
   (entries off at the last candle, forced close) reaches into it.
4. `backtest/parity.py` compares what both did up to the window's end.

The stream cadence is the one thing the configuration says twice: sim mode spaces its updates by
`simulator.speed` (`paced_update_intervals`), so the backtest is given those cadences in place of
`backtest.kline_update_ms` / `mark_update_ms`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import yaml
from sqlalchemy import create_engine
from sqlmodel import Session, select

from backtest.loading import load_files
from backtest.parity import (
    DecisionRecord,
    Decisions,
    Difference,
    FillRecord,
    OrderRecord,
    PositionRecord,
    SignalRecord,
    compare,
    decision_record,
    fill_records,
    order_record,
    positions_from,
    signal_record,
)
from backtest.runner import Backtest
from backtest.series import BarSeries
from config.loader import load_config
from config.models import TraderConfig
from core.errors import ConfigError
from core.instruments import Instrument
from database.models import FillRow, OrderRow, PositionRow, RiskDecisionRow, SignalRow
from simulator.bars import DAY_MS, MINUTE_MS
from simulator.exchange_info import instruments_of, load_exchange_info
from simulator.exchange_market import paced_update_intervals
from trader.parity_live import LiveWindow, run_live, settings_in

# What differs by nature between the two runs, so is not compared (printed with every report).
NOT_COMPARED = (
    "venue order and trade ids (each venue numbers what it is sent)",
    "wall-clock instants and network latency (the live run's simulated clock stands still while it waits)",
    "orders cancelled by the daemon's shutdown at the window's end (the backtest runs on)",
)


@dataclass(slots=True)
class ParityResult:
    """The outcome of one parity run."""

    window: LiveWindow
    symbols: list[str]
    skipped: dict[str, str]
    candles: int
    live: Decisions
    backtest: Decisions
    differences: list[Difference]
    live_exit_code: int
    steps: int
    notes: list[str] = field(default_factory=list)


def _instruments(config: TraderConfig) -> dict[str, Instrument]:
    path = config.simulator.data / "exchange_info.json"
    try:
        return instruments_of(load_exchange_info(path))
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(str(path), "exchange info", f"cannot be read: {exc}") from None


def _first_day(first_open_ms: int, warm_ms: int) -> int:
    """The first midnight (UTC) with a warm-up's candles before it."""
    return -(-(first_open_ms + warm_ms) // DAY_MS) * DAY_MS


def plan(
    config: TraderConfig, start_ms: int | None, minutes: int
) -> tuple[LiveWindow, dict[str, BarSeries], dict[str, str], dict[str, Instrument]]:
    """The window, the candles of each covered symbol (warm-up included), the symbols left out."""
    instruments = _instruments(config)
    wanted = [s.symbol for s in config.symbols]
    data = load_files([config.simulator.data / "klines"], {s: i.tick_size for s, i in instruments.items()})
    warm_ms = config.engine.warmup_candles * MINUTE_MS
    firsts = {s: data[s].first_open_time for s in wanted if s in data and len(data[s])}
    if not firsts:
        raise ConfigError("--config", "symbols", "none of the configured symbols has data in the data folder")
    if start_ms is None:  # the first configured symbol's first day with a warm-up before it
        starts = {sym: _first_day(first, warm_ms) for sym, first in firsts.items()}
        covering = [sym for sym in firsts if starts[sym] + minutes * MINUTE_MS < data[sym].end_time]
        start_ms = starts[covering[0]] if covering else min(starts.values())
    if start_ms % MINUTE_MS:
        raise ConfigError("--start", "start", "must fall on a whole minute")
    end_ms = start_ms + minutes * MINUTE_MS
    series: dict[str, BarSeries] = {}
    skipped: dict[str, str] = {}
    history_days: int | None = None
    for symbol in wanted:
        s = data.get(symbol)
        if s is None:
            skipped[symbol] = "no kline file"
            continue
        days = (start_ms - s.first_open_time) // DAY_MS
        window = s.window(start_ms - warm_ms, end_ms + 2 * MINUTE_MS)
        covered = len(window) == config.engine.warmup_candles + minutes + 2
        if not covered:
            skipped[symbol] = "its data does not cover the window and the warm-up before it"
        elif history_days not in (None, days):
            skipped[symbol] = "its data starts at another time of day than the first symbol's"
        else:
            history_days = days
            series[symbol] = window
    if history_days is None:
        raise ConfigError(
            "--start",
            "start",
            "no configured symbol has data for this window (see `trader backtest` for the data)",
        )
    speed = float(config.simulator.speed)
    kline_ms, mark_ms = paced_update_intervals(speed)
    return LiveWindow(start_ms, end_ms, history_days, kline_ms, mark_ms), series, skipped, instruments


def restricted_config(config: TraderConfig, symbols: list[str], window: LiveWindow) -> TraderConfig:
    """The configuration both runs use: only the covered symbols, the live stream's cadence."""
    backtest = config.backtest.model_copy(
        update={"kline_update_ms": window.kline_update_ms, "mark_update_ms": window.mark_update_ms}
    )
    return config.model_copy(
        update={"symbols": [s for s in config.symbols if s.symbol in symbols], "backtest": backtest}
    )


def write_config(config: TraderConfig, path: Path) -> TraderConfig:
    """Write `config` as YAML to `path` and read it back (so the daemon's file says what it runs)."""
    document = json.loads(config.model_dump_json(exclude_none=False))
    for entry, symbol in zip(document["symbols"], config.symbols, strict=True):
        entry["params"] = json.loads(symbol.validated_params.model_dump_json())
    document["simulator"]["data"] = str(config.simulator.data.resolve())
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return load_config(path)


def backtest_decisions(
    config: TraderConfig, series: dict[str, BarSeries], instruments: dict[str, Instrument], end_ms: int
) -> Decisions:
    """Backtest `series` and keep what happened up to `end_ms`."""
    bt = Backtest(config, series, instruments, funding_rate=config.backtest.funding_rate or Decimal(0))
    record = bt.run()
    venue = bt.venue
    signals = [signal_record(s) for s in record.signals if s.event_time <= end_ms]
    decisions = [decision_record(d) for d in record.decisions if d.event_time <= end_ms]
    orders = [order_record(o) for o in venue.orders.values() if o.created_time <= end_ms]
    fills = [f for f in fill_records(fill for fill, _ in venue.fills) if f.time <= end_ms]
    symbol_of = {o.client_order_id: o.symbol for o in orders}
    return Decisions(signals, decisions, orders, fills, positions_from(fills, symbol_of))


def live_decisions(database_url: str, end_ms: int) -> Decisions:
    """What the daemon stored up to `end_ms`."""
    engine = create_engine(database_url)
    try:
        with Session(engine) as s:
            signals = [
                SignalRecord(r.signal_id, r.event_time, r.symbol, r.action, r.price, r.reason)
                for r in s.exec(select(SignalRow).order_by(SignalRow.id))  # type: ignore[arg-type]
                if r.event_time <= end_ms
            ]
            decisions = [
                DecisionRecord(r.signal_id, r.event_time, r.accepted, r.reason)
                for r in s.exec(select(RiskDecisionRow).order_by(RiskDecisionRow.id))  # type: ignore[arg-type]
                if r.event_time <= end_ms
            ]
            orders = [
                OrderRecord(
                    r.client_order_id,
                    r.created_time,
                    r.symbol,
                    r.side,
                    r.order_type,
                    r.quantity,
                    r.price,
                    r.reduce_only,
                )
                for r in s.exec(select(OrderRow).order_by(OrderRow.id))  # type: ignore[arg-type]
                if r.created_time <= end_ms
            ]
            fills: list[FillRecord] = []
            ranks: dict[str, int] = {}
            for f in s.exec(select(FillRow).order_by(FillRow.time, FillRow.trade_id)):  # type: ignore[arg-type]
                rank = ranks.get(f.client_order_id, 0)
                ranks[f.client_order_id] = rank + 1
                fills.append(
                    FillRecord(f.client_order_id, rank, f.time, f.side, f.price, f.quantity, f.commission)
                )
            positions = [
                PositionRecord(p.symbol, p.quantity, p.entry_price, p.realized_pnl, p.fees)
                for p in s.exec(select(PositionRow).order_by(PositionRow.symbol))
                if p.quantity or p.realized_pnl or p.fees
            ]
    finally:
        engine.dispose()
    return Decisions(signals, decisions, orders, fills, positions)


def run_parity(config_path: Path, folder: Path, *, start_ms: int | None, minutes: int) -> ParityResult:
    """Steps 1 to 4 of the module docstring; the run's files stay in `folder`."""
    config = load_config(config_path)
    window, series, skipped, instruments = plan(config, start_ms, minutes)
    path = folder / "parity-config.yaml"
    config = write_config(restricted_config(config, sorted(series), window), path)
    settings = settings_in(folder, path)
    live_run = run_live(settings, config, path, window)
    live = live_decisions(settings.database_url, window.end_ms)
    backtest = backtest_decisions(config, series, instruments, window.end_ms)
    differences = compare(live, backtest)
    if live_run.exit_code:
        differences.insert(0, Difference("daemon", "exit code", "exit_code", str(live_run.exit_code), "0"))
    return ParityResult(
        window,
        sorted(series),
        skipped,
        sum(minutes for _ in series),
        live,
        backtest,
        differences,
        live_run.exit_code,
        live_run.steps,
    )


__all__ = ["NOT_COMPARED", "ParityResult", "backtest_decisions", "live_decisions", "plan", "run_parity"]
