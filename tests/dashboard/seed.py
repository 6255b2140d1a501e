"""A trading history in a real, migrated database, for the dashboard's tests and its benchmark.

`seed_database(url, symbols=50, fills=100_000, days=7)` writes what the daemon would have written
after days of trading: 1m candles (a seeded random walk), entry and exit signals with their
indicator inputs, risk decisions (some rejected), orders, fills (two per round trip), positions,
funding payments, volatility-guard events, halts, equity snapshots, reconciliation runs, alerts and
backtest runs. Every number is Decimal and goes through the tables' own column types. `Seeded`
returns facts computed while writing (exactly, in Decimal) for tests to look for on the pages.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import insert

from database.engine import make_engine
from database.migrate import upgrade
from database.models import (
    AlertRow,
    BacktestRunRow,
    CandleRow,
    ControlRow,
    EquityRow,
    FillRow,
    FundingPaymentRow,
    OrderRow,
    PositionRow,
    ReconciliationRunRow,
    RiskDecisionRow,
    SignalRow,
    VolatilityEventRow,
)

MINUTE = 60_000
DAY = 86_400_000
_NAMES = ("BTCUSDT", "ETHUSDT", "WLDUSDT", "ADAUSDT", "SOLUSDT", "XRPUSDT")
_CHUNK = 5_000


@dataclass
class Seeded:
    """What was written, for assertions."""

    symbols: list[str]
    net_by_day: dict[int, Decimal] = field(default_factory=dict)  # realized − fees + funding per UTC day
    open_positions: dict[str, tuple[Decimal, Decimal]] = field(default_factory=dict)  # symbol -> (qty, entry)
    last_close: dict[str, Decimal] = field(default_factory=dict)
    fills: int = 0


def _q(value: float, places: int = 4) -> Decimal:
    return Decimal(f"{value:.{places}f}")


def _symbols(count: int) -> list[str]:
    return [_NAMES[i] if i < len(_NAMES) else f"S{i:02d}USDT" for i in range(count)]


def _write(connection: Any, table: Any, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), _CHUNK):
        connection.execute(insert(table), rows[start : start + _CHUNK])


def seed_database(
    url: str, *, symbols: int = 3, fills: int = 300, days: int = 2, now_ms: int, seed: int = 7
) -> Seeded:
    """Migrate `url` and fill it; the history ends at `now_ms` (the newest candle opens before it)."""
    upgrade(url)
    rng = random.Random(seed)
    names = _symbols(symbols)
    facts = Seeded(names)
    end = now_ms // MINUTE * MINUTE - MINUTE
    start = end - days * DAY
    engine = make_engine(url)
    paths: dict[str, list[float]] = {}
    with engine.begin() as connection:
        for index, symbol in enumerate(names):
            price = 100.0 * (1 + index) if index < 2 else 0.5 + index
            closes: list[float] = []
            rows = []
            for minute in range(days * 1440):
                open_ = price
                price *= 1 + rng.gauss(0, 0.0012)
                high, low = (
                    max(open_, price) * (1 + rng.random() * 0.0008),
                    min(open_, price) * (1 - rng.random() * 0.0008),
                )
                open_time = start + minute * MINUTE
                rows.append(
                    {
                        "symbol": symbol,
                        "open_time": open_time,
                        "close_time": open_time + MINUTE - 1,
                        "open": _q(open_),
                        "high": _q(high),
                        "low": _q(low),
                        "close": _q(price),
                        "volume": _q(rng.uniform(10, 500), 2),
                        "quote_volume": _q(rng.uniform(10, 500) * price, 2),
                        "trades": rng.randint(5, 200),
                    }
                )
                closes.append(price)
            _write(connection, CandleRow.__table__, rows)
            paths[symbol] = closes
            facts.last_close[symbol] = _q(closes[-1])
        _trades(connection, rng, names, paths, start, fills // 2, facts)
        _operations(connection, rng, names, start, end, facts)
    engine.dispose()
    return facts


def _leg(
    symbol: str, n: int, leg: int, time: int, side: str, price: Decimal, qty: Decimal, pnl: Decimal
) -> dict[str, Any]:
    """The order and the fill of one leg (entry 0, exit 1) of round trip `n`."""
    fee = (price * qty * Decimal("0.0004")).quantize(Decimal("0.00000001"))
    client_id, trade_id = f"c{n}x{leg}", n * 2 + leg
    order = dict(
        client_order_id=client_id,
        symbol=symbol,
        strategy="vwap",
        side=side,
        order_type="LIMIT",
        quantity=qty,
        price=price,
        state="FILLED",
        venue_order_id=trade_id,
        filled_qty=qty,
        avg_price=price,
        cum_quote=price * qty,
        signal_id=f"{symbol}-{n}-{leg}",
        intent=("entry", "exit")[leg],
        created_time=time,
        updated_time=time,
    )
    fill = dict(
        symbol=symbol,
        trade_id=trade_id,
        order_id=trade_id,
        client_order_id=client_id,
        side=side,
        price=price,
        quantity=qty,
        commission=fee,
        realized_pnl=pnl,
        is_maker=True,
        time=time,
    )
    return {"order": order, "fill": fill}


def _signal(
    symbol: str, signal_id: str, action: str, reason: str, time: int, price: Decimal, adx: float
) -> dict[str, Any]:
    inputs = {
        "rule": "exit" if action == "CLOSE" else "entry",
        "price": str(price),
        "vwap": f"{float(price) * 1.001:.6g}",
        "sigma": f"{float(price) * 0.002:.6g}",
        "adx": f"{adx:.4g}",
        "adx_max": "20",
        "band_k": "2.0",
        "exit_band_k": "3.0",
    }
    return dict(
        signal_id=signal_id,
        symbol=symbol,
        strategy="vwap",
        action=action,
        reason=reason,
        price=price,
        inputs=json.dumps(inputs),
        event_time=time,
    )


def _decision(signal: dict[str, Any], verdict: str) -> dict[str, Any]:
    return dict(
        signal_id=signal["signal_id"],
        symbol=signal["symbol"],
        strategy="vwap",
        accepted=verdict == "accepted",
        reason=verdict,
        details=json.dumps({"price": str(signal["price"])}),
        event_time=signal["event_time"],
    )


def _trades(
    connection: Any,
    rng: random.Random,
    names: list[str],
    paths: dict[str, list[float]],
    start: int,
    round_trips: int,
    facts: Seeded,
) -> None:
    """`round_trips` entries and exits (two fills each), plus ~5 % more entries the risk gate rejected."""
    signals, decisions, orders, fills = [], [], [], []
    totals = {s: [Decimal(0), Decimal(0)] for s in names}  # realized, fees
    minutes = len(paths[names[0]])
    for n in range(round_trips):
        symbol = names[n % len(names)]
        entry_minute = (n * (minutes - 10)) // round_trips
        exit_minute = entry_minute + rng.randint(1, 8)
        long = rng.random() < 0.5
        qty = _q(rng.uniform(0.1, 5), 3)
        entry, exit_ = _q(paths[symbol][entry_minute]), _q(paths[symbol][exit_minute])
        pnl = (exit_ - entry) * qty * (1 if long else -1)
        t_in, t_out = (start + m * MINUTE + MINUTE - 1 for m in (entry_minute, exit_minute))
        if rng.random() < 0.05:
            refused = _signal(
                symbol, f"{symbol}-{n}-r", "OPEN_LONG", "close below lower band", t_in - 1, entry, 12.0
            )
            signals.append(refused)
            decisions.append(_decision(refused, rng.choice(("max_exposure", "funding_window"))))
        why_out = rng.choice(("back at VWAP", "stop loss", "max holding time"))
        legs = (
            (
                0,
                t_in,
                entry,
                "OPEN_LONG" if long else "OPEN_SHORT",
                "close beyond the entry band",
                Decimal(0),
            ),
            (1, t_out, exit_, "CLOSE", why_out, pnl),
        )
        for leg, time, price, action, reason, realized in legs:
            signal = _signal(symbol, f"{symbol}-{n}-{leg}", action, reason, time, price, rng.uniform(8, 30))
            signals.append(signal)
            decisions.append(_decision(signal, "accepted"))
            side = "BUY" if long == (leg == 0) else "SELL"
            rows = _leg(symbol, n, leg, time, side, price, qty, realized)
            orders.append(rows["order"])
            fills.append(rows["fill"])
            fee = rows["fill"]["commission"]
            totals[symbol][0] += realized
            totals[symbol][1] += fee
            facts.net_by_day[time // DAY] = facts.net_by_day.get(time // DAY, Decimal(0)) + realized - fee
    for table, rows_ in (
        (SignalRow, signals),
        (RiskDecisionRow, decisions),
        (OrderRow, orders),
        (FillRow, fills),
    ):
        _write(connection, table.__table__, rows_)
    facts.fills = len(fills)
    _positions(connection, names, totals, facts)


def _positions(connection: Any, names: list[str], totals: dict[str, list[Decimal]], facts: Seeded) -> None:
    rows = []
    for index, symbol in enumerate(names):
        quantity = Decimal("0.5") if index % 2 == 0 else Decimal(0)
        entry = (
            (facts.last_close[symbol] * Decimal("0.99")).quantize(Decimal("0.0001"))
            if quantity
            else Decimal(0)
        )
        if quantity:
            facts.open_positions[symbol] = (quantity, entry)
        realized, fees = totals[symbol]
        rows.append(
            {
                "symbol": symbol,
                "strategy": "vwap",
                "quantity": quantity,
                "entry_price": entry,
                "realized_pnl": realized,
                "fees": fees,
                "funding": Decimal(0),
                "opened_time": None,
                "updated_time": 1,
            }
        )
    _write(connection, PositionRow.__table__, rows)


def _operations(
    connection: Any, rng: random.Random, names: list[str], start: int, end: int, facts: Seeded
) -> None:
    funding = [
        {"symbol": s, "amount": _q(rng.uniform(-2, 1), 6), "asset": "USDT", "time": t}
        for t in range(start // (8 * 3600_000) * 8 * 3600_000 + 8 * 3600_000, end, 8 * 3600_000)
        for s in names
    ]
    for row in funding:
        day = row["time"] // DAY
        facts.net_by_day[day] = facts.net_by_day.get(day, Decimal(0)) + row["amount"]
    _write(connection, FundingPaymentRow.__table__, funding)
    guards = [
        {
            "symbol": rng.choice(names),
            "strategy": "vwap",
            "range_fraction": Decimal("0.009"),
            "threshold": Decimal("0.008"),
            "until_time": t + MINUTE,
            "event_time": t,
        }
        for t in range(start, end, 97 * MINUTE)
    ]
    _write(connection, VolatilityEventRow.__table__, guards)
    halt = json.dumps({"reason": "3 consecutive losses", "until_ms": end + 3600_000, "strategy": "vwap"})
    _write(
        connection, ControlRow.__table__, [{"key": f"halt:{names[-1]}", "value": halt, "updated_time": end}]
    )
    equity, level = [], Decimal(10_000)
    for t in range(start, end, 5 * MINUTE):
        level += _q(rng.gauss(0.05, 3), 2)
        equity.append({"time": t, "wallet_balance": level, "unrealized_pnl": Decimal(0), "equity": level})
    _write(connection, EquityRow.__table__, equity)
    runs = [
        {
            "time": t,
            "trigger": "periodic",
            "result": "ok" if i % 50 else "repaired",
            "differences": 0 if i % 50 else 1,
            "duration_ms": 40,
            "detail": "" if i % 50 else "1 fill back-filled",
        }
        for i, t in enumerate(range(start, end, 10 * MINUTE))
    ]
    _write(connection, ReconciliationRunRow.__table__, runs)
    alerts = [
        {
            "time": end - i * 3 * MINUTE,
            "last_time": end - i * 3 * MINUTE,
            "severity": rng.choice(("info", "warning", "critical")),
            "kind": "stream_down",
            "symbol": None,
            "key": f"stream_down:{i}",
            "message": f"market stream down for 31 s ({i})",
            "occurrences": 1 + i % 3,
            "status": "delivered" if i % 7 else "undelivered",
            "attempts": 1,
            "error": "" if i % 7 else "timeout",
        }
        for i in range(120)
    ]
    _write(connection, AlertRow.__table__, alerts)
    curve = [[start + i * DAY // 10, 10_000 + i * 3.5] for i in range(10 * 2)]
    result = {
        "net_pnl": "70.0",
        "trades": 42,
        "win_rate": 0.55,
        "max_drawdown": "-12.5",
        "equity_curve": curve,
    }
    _write(
        connection,
        BacktestRunRow.__table__,
        [
            {
                "created_time": end - i * DAY,
                "name": f"WLDUSDT vwap k={2 + i * 0.5}",
                "config": json.dumps({"band_k": 2 + i * 0.5}),
                "result": json.dumps(result),
                "status": "finished",
            }
            for i in range(3)
        ],
    )
