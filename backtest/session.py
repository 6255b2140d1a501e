"""One backtest from start to report: the configuration, the candles, the run, the numbers."""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from backtest.report import RunInfo, build_report
from backtest.runner import Backtest, Progress, Record
from backtest.series import BarSeries
from backtest.trades import Trade, round_trips
from config.models import TraderConfig
from core.events import Signal
from core.instruments import Instrument
from simulator.funding import FundingSchedule


def config_hash(config: TraderConfig) -> str:
    """A short, stable hash of everything the configuration says (what a run is compared by)."""
    text = json.dumps(config.model_dump(mode="json"), sort_keys=True, default=str)
    params = {s.symbol: s.validated_params.model_dump(mode="json") for s in config.symbols}
    text += json.dumps(params, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Outcome:
    """A finished backtest: the report document, its trades and what the loop recorded."""

    report: dict[str, Any]
    trades: list[Trade]
    record: Record
    loop_seconds: float


def run_session(
    config: TraderConfig,
    series: Mapping[str, BarSeries],
    instruments: Mapping[str, Instrument],
    *,
    funding_rate: Decimal | None = None,
    funding: FundingSchedule | None = None,
    funding_label: str | None = None,
    progress: Progress | None = None,
    timing: dict[str, float] | None = None,
) -> Outcome:
    """Backtest `series` with `config`.

    Funding: `funding` (imported rates at their funding times, described by `funding_label`), else
    a flat `funding_rate` at the configured funding times; neither means funding is not modelled.
    """
    wanted = {s.symbol for s in config.symbols}
    series = {symbol: s for symbol, s in series.items() if symbol in wanted}
    if not series:
        raise ValueError("no candles for any configured symbol")
    backtest = Backtest(config, series, instruments, funding=funding, funding_rate=funding_rate or Decimal(0))
    started = time.perf_counter()
    cpu_started = time.process_time()  # CPU time: what a loaded machine distorts least
    record = backtest.run(progress)
    loop_seconds = time.perf_counter() - started
    loop_cpu_seconds = time.process_time() - cpu_started
    venue = backtest.venue
    signals: dict[str, Signal] = {s.signal_id: s for s in record.signals}
    by_order = {
        cid: signals[o.request.signal_id]
        for cid, o in venue.orders.items()
        if o.request.signal_id is not None and o.request.signal_id in signals
    }
    trades = round_trips([fill for fill, _ in venue.fills], venue.funding, by_order)
    charged = "not modelled" if funding_rate is None else f"flat rate {funding_rate} per funding time"
    if funding is not None:
        charged = funding_label or "imported rates"
    info = RunInfo(
        start_ms=min(s.first_open_time for s in series.values()),
        end_ms=max(s.end_time for s in series.values()),
        symbols=tuple(sorted(series)),
        candles=sum(len(s) for s in series.values()),
        config_hash=config_hash(config),
        starting_balance=config.simulator.starting_balance_usdt,
        taker_fee_bps=config.backtest.taker_fee_bps,
        slippage_bps=config.backtest.slippage_bps,
        funding=charged,
    )
    decisions = Counter(d.reason for d in record.decisions)
    if timing is not None:
        timing["loop_seconds"] = loop_seconds
        timing["loop_cpu_seconds"] = loop_cpu_seconds
    report = build_report(info, trades, record.equity, decisions=decisions, timing=timing)
    return Outcome(report, trades, record, loop_seconds)


__all__ = ["Outcome", "config_hash", "run_session"]
