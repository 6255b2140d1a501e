"""SimulatedExchange: the protocol-free facade the loopback server (and tests) call.

Every REST endpoint is one method `name(params, now_ms)`: `params` are exactly the strings the
client sent (already authenticated by the server: `timestamp`, `recvWindow` and `signature` are
ignored here), `now_ms` is the simulated time of the request. Each returns a JSON-ready value with
Binance's field names and string decimals (built by `simulator/wire_*.py`), or raises
`SimError(code, msg, http_status)`.

`advance_to(now_ms, wanted)` moves simulated time and returns `(stream, payload)` pairs in event
order: market payloads under their stream name (`adausdt@kline_1m`, `adausdt@markPrice@1s`,
`adausdt@markPrice`) and user-data payloads under the literal `USER_STREAM` ("user"). `wanted`
limits market payloads to the named streams, so 500 loaded symbols cost nothing when 2 are watched.
Kline updates come every `kline_update_ms` (250) of simulated time on a fixed grid, plus the x=true
final update of a bar at the next minute's first instant; mark prices every 1 s (`@1s`) and 3 s.
A REST request that moves the engine (an order at a later time) queues its user events; they come
out of the next `advance_to`, merged by event time.

The backtester can use `MatchingEngine` (`self.engine`) directly with typed results instead.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Collection, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from core.instruments import Instrument
from simulator import wire_account, wire_market, wire_orders, wire_user_stream
from simulator.bars import DAY_MS, MINUTE_MS, Bar
from simulator.engine import MAINT_MARGIN_RATE, MatchingEngine
from simulator.engine_types import EngineConfig, Order, OrderEvent
from simulator.errors import SimError
from simulator.exchange_info import instruments_of, load_exchange_info, with_synthetic_symbols
from simulator.funding import FundingSchedule
from simulator.kline_files import KlineSeries, load_kline_csv
from simulator.market_series import MarketSeries
from simulator.order_rules import MSG_MANDATORY, mandatory, parse_new_order
from simulator.replay import Replay
from simulator.synthetic import SyntheticSeries
from simulator.wire_values import num

__all__ = ["USER_STREAM", "SimError", "SimulatedExchange"]

USER_STREAM = "user"
Params = dict[str, str]
Json = dict[str, Any]

# Base prices of SYNTHETIC markets for symbols we know; others get a seeded price in 0.1 .. 10.
SYNTHETIC_BASE_PRICES = {
    "BTCUSDT": Decimal("60000"),
    "ETHUSDT": Decimal("3000"),
    "BNBUSDT": Decimal("500"),
    "SOLUSDT": Decimal("150"),
    "XRPUSDT": Decimal("0.5"),
    "DOGEUSDT": Decimal("0.1"),
    "LINKUSDT": Decimal("15"),
}
_KLINE_FILE = re.compile(r"^([A-Z0-9]+?)(?:_PERP)?_(\d+[mh])_.*\.csv(\.gz)?$")


def paced_update_intervals(speed: float) -> tuple[int, int]:
    """(kline update ms, mark price ms) of simulated time for a venue running `speed` times real time.

    Binance pushes a kline update every 250 ms and a mark price every second. Faster than real
    time, updates are spaced out in simulated time so a client still gets about 16 of each per
    symbol and real second (a 5-second volatility window then sees fewer samples).
    """
    return int(250 * max(1.0, speed / 4)), int(1000 * max(1.0, speed / 16))


def replayable_symbols(data_dir: Path) -> set[str]:
    """Symbols with a kline file under `data_dir`/klines (real data to replay)."""
    names = (_KLINE_FILE.match(p.name) for p in (data_dir / "klines").iterdir())
    return {m.group(1) for m in names if m is not None}


def listed_symbols(data_dir: Path) -> set[str]:
    """Every symbol of `data_dir`/exchange_info.json."""
    return {str(s["symbol"]) for s in load_exchange_info(data_dir / "exchange_info.json")["symbols"]}


class SimulatedExchange:
    """One simulated Binance USD-M account over replayed (or synthetic) market data, or a live feed
    (paper mode: any `MarketSeries` per symbol)."""

    def __init__(
        self,
        exchange_info: Json,
        replays: Mapping[str, MarketSeries],
        *,
        start_ms: int,
        config: EngineConfig | None = None,
        kline_update_ms: int = 250,
        mark_update_ms: int = 1000,
        funding: FundingSchedule | None = None,
    ) -> None:
        self._doc = exchange_info
        self._instruments = {s: i for s, i in instruments_of(exchange_info).items() if s in replays}
        # The engine shares these two dicts, so a market added later is tradable at once.
        self._replays: dict[str, MarketSeries] = dict(replays)
        self.engine = MatchingEngine(
            self._instruments, self._replays, config or EngineConfig(), start_ms, funding=funding
        )
        self._kline_ms = kline_update_ms
        self._mark_ms = mark_update_ms
        self._cursor = start_ms  # market payloads have been produced up to here
        self._queued: list[tuple[int, str, Json]] = []

    @classmethod
    def from_data(
        cls,
        data_dir: Path,
        *,
        start_ms: int,
        symbols: Sequence[str] | None = None,
        synthetic_symbols: Sequence[str] = (),
        seed: int = 0,
        starting_balance: Decimal = Decimal("10000"),
        history_days: int = 2,
        config: EngineConfig | None = None,
        kline_update_ms: int = 250,
        mark_update_ms: int = 1000,
    ) -> SimulatedExchange:
        """Load `data_dir`/exchange_info.json and `data_dir`/klines/* and start the market at `start_ms`.

        `symbols` limits the replayed real symbols (default: every symbol with a kline file);
        `synthetic_symbols` adds SYNTHETIC markets (seeded random walks; names missing from the
        document get a clone of WLDUSDT's rules). `history_days` of bars exist before `start_ms`.
        """
        doc = with_synthetic_symbols(
            load_exchange_info(data_dir / "exchange_info.json"), list(synthetic_symbols)
        )
        instruments = instruments_of(doc)
        history_ms = history_days * DAY_MS
        replays: dict[str, Replay] = {}
        for path in sorted((data_dir / "klines").iterdir()):
            match = _KLINE_FILE.match(path.name)
            if match is None or match.group(1) not in instruments:
                continue
            symbol = match.group(1)
            if (symbols is not None and symbol not in symbols) or symbol in replays:
                continue
            tick = instruments[symbol].tick_size
            replays[symbol] = Replay(
                KlineSeries(load_kline_csv(path), tick), tick, start_ms=start_ms, history_ms=history_ms
            )
        for symbol in synthetic_symbols:
            tick = instruments[symbol].tick_size
            base = (
                SYNTHETIC_BASE_PRICES.get(symbol)
                or Decimal(1 + zlib.crc32(f"{seed}:{symbol}".encode()) % 100) / 10
            )
            series = SyntheticSeries(symbol, seed, base, tick, start_time=start_ms - history_ms)
            replays[symbol] = Replay(series, tick, start_ms=start_ms, history_ms=history_ms)
        cfg = config or EngineConfig()
        cfg = EngineConfig(
            **{**{f: getattr(cfg, f) for f in cfg.__dataclass_fields__}, "starting_balance": starting_balance}
        )
        return cls(
            doc, replays, start_ms=start_ms, config=cfg,
            kline_update_ms=kline_update_ms, mark_update_ms=mark_update_ms,
        )

    # --- introspection for the server -------------------------------------------------------

    def symbols(self) -> list[str]:
        """Every tradable symbol, sorted."""
        return sorted(self._instruments)

    def instrument(self, symbol: str) -> Instrument:
        """The trading rules of `symbol`; SimError(-1121) if unknown."""
        return self.engine.instrument(symbol)

    def add_market(self, entry: Json, series: MarketSeries) -> None:
        """List one more symbol (its exchangeInfo entry) priced by `series` (paper mode's live edits)."""
        symbol = str(entry["symbol"])
        instrument = instruments_of({"symbols": [entry]})[symbol]
        others = [s for s in self._doc["symbols"] if s.get("symbol") != symbol]
        self._doc = {**self._doc, "symbols": [*others, entry]}
        self._replays[symbol] = series
        self._instruments[symbol] = instrument

    def mark_price(self, symbol: str, now_ms: int) -> Decimal:
        """The mark price (the replay path price) of `symbol` at `now_ms`."""
        return self.engine.mark_price(symbol, now_ms)

    def market_streams(self) -> set[str]:
        """Every market stream name this exchange produces (lower-case symbol)."""
        return {
            f"{s.lower()}@{kind}"
            for s in self._instruments
            for kind in ("kline_1m", "markPrice@1s", "markPrice")
        }

    @property
    def now_ms(self) -> int:
        """The simulated time market payloads have been produced up to."""
        return self._cursor

    def advance_to(self, now_ms: int, wanted: Collection[str] | None = None) -> list[tuple[str, Json]]:
        """Process simulated time up to `now_ms`; return stream payloads in event order."""
        out = self._queued
        self._queued = []
        klines, marks, marks3 = self._wanted(wanted)
        # Every instant something is due: kline updates, the minute's final bar, mark prices.
        # The cadences need not divide each other (a faster-than-real-time venue spaces updates
        # out), so the next instant is the earliest of each cadence's next multiple.
        cadences = [c for c, on in ((self._kline_ms, klines), (MINUTE_MS, klines),
                                    (self._mark_ms, marks), (3000, marks3)) if on]
        step = min(cadences) if cadences else 0
        if step == 0:
            self.engine.advance(now_ms)
            self._drain(out)
            self._cursor = max(self._cursor, now_ms)

        def next_due(after: int) -> int:
            return min(after - after % c + c for c in cadences)

        t = next_due(self._cursor) if step else now_ms + 1
        while t <= now_ms:
            self.engine.advance(t)
            if t % MINUTE_MS == 0:
                for sym in klines:
                    bar = self._replays[sym].bar(t - MINUTE_MS)
                    out.append((t, f"{sym.lower()}@kline_1m", wire_market.kline_stream(sym, bar, True, t)))
            if t % self._kline_ms == 0:
                for sym in klines:
                    bar = self._replays[sym].live_bar(t)
                    out.append((t, f"{sym.lower()}@kline_1m", wire_market.kline_stream(sym, bar, False, t)))
            for names, every, suffix in (
                (marks, self._mark_ms, "@markPrice@1s"),
                (marks3, 3000, "@markPrice"),
            ):
                if t % every == 0:
                    for sym in names:
                        out.append((t, sym.lower() + suffix, self._mark_payload(sym, t)))
            self._drain(out)
            self._cursor = t
            t = next_due(t)
        if step:
            self.engine.advance(now_ms)
            self._drain(out)
            self._cursor = max(self._cursor, now_ms)
        out.sort(key=lambda item: item[0])  # stable: queued REST events merge by time
        return [(stream, payload) for _, stream, payload in out]

    def _wanted(self, wanted: Collection[str] | None) -> tuple[list[str], list[str], list[str]]:
        syms = self.symbols()
        if wanted is None:
            return syms, syms, syms
        return (
            [s for s in syms if f"{s.lower()}@kline_1m" in wanted],
            [s for s in syms if f"{s.lower()}@markPrice@1s" in wanted],
            [s for s in syms if f"{s.lower()}@markPrice" in wanted],
        )

    def _drain(self, out: list[tuple[int, str, Json]]) -> None:
        for ev in self.engine.drain_events():
            if isinstance(ev, OrderEvent) and ev.trade is not None:
                out.append((ev.time, USER_STREAM, wire_user_stream.trade_lite(ev)))
            out.append((ev.time, USER_STREAM, wire_user_stream.user_event(ev)))

    def _mark_payload(self, symbol: str, t: int) -> Json:
        nxt = self.engine.next_funding_time(symbol, t)
        return wire_market.mark_price_stream(
            symbol, self.engine.mark_price(symbol, t), self.engine.funding_rate(symbol, nxt), nxt, t
        )

    def _sync(self, now_ms: int) -> int:
        """Bring the engine to the request's time; its events wait for the next advance_to."""
        self.engine.advance(now_ms)
        self._drain(self._queued)
        return self.engine.now_ms

    def _symbol(self, params: Params) -> str:
        symbol = mandatory(params, "symbol")
        self.engine.instrument(symbol)
        return symbol

    # --- public market endpoints ------------------------------------------------------------

    def ping(self, params: Params, now_ms: int) -> Json:
        """GET /fapi/v1/ping -> {}."""
        return {}

    def time(self, params: Params, now_ms: int) -> Json:
        """GET /fapi/v1/time -> {"serverTime": now_ms}."""
        return {"serverTime": now_ms}

    def exchange_info(self, params: Params, now_ms: int) -> Json:
        """GET /fapi/v1/exchangeInfo: the shipped document, serverTime = now."""
        return wire_market.exchange_info(self._doc, self._instruments, now_ms)

    def klines(self, params: Params, now_ms: int) -> list[list[Any]]:
        """GET /fapi/v1/klines (1m only): closed bars plus the open bar as it stands at `now_ms`."""
        symbol = self._symbol(params)
        if mandatory(params, "interval") != "1m":
            raise SimError(-1120, "Invalid interval.")
        limit = min(_int(params, "limit", 500), 1500)
        current = now_ms - now_ms % MINUTE_MS
        start, end = _opt_int(params, "startTime"), _opt_int(params, "endTime")
        last = min(current, end - end % MINUTE_MS) if end is not None else current
        if start is not None:
            first = start + (-start) % MINUTE_MS
            last = min(last, first + (limit - 1) * MINUTE_MS)
        else:
            first = last - (limit - 1) * MINUTE_MS
        return [wire_market.kline_row(bar) for bar in self._replays[symbol].bars(first, last, now_ms)]

    def premium_index(self, params: Params, now_ms: int) -> Json | list[Json]:
        """GET /fapi/v1/premiumIndex (one symbol -> object, none -> list)."""

        def one(sym: str) -> Json:
            nxt = self.engine.next_funding_time(sym, now_ms)
            return wire_market.premium_index(
                sym, self.mark_price(sym, now_ms), self.engine.funding_rate(sym, nxt), nxt, now_ms
            )

        return one(self._symbol(params)) if "symbol" in params else [one(s) for s in self.symbols()]

    def ticker_24hr(self, params: Params, now_ms: int) -> Json | list[Json]:
        """GET /fapi/v1/ticker/24hr over the last 1440 minutes of the replay."""
        return (
            self._ticker_24hr(self._symbol(params), now_ms)
            if "symbol" in params
            else [self._ticker_24hr(s, now_ms) for s in self.symbols()]
        )

    def _ticker_24hr(self, symbol: str, now_ms: int) -> Json:
        replay = self._replays[symbol]
        current = now_ms - now_ms % MINUTE_MS
        bars: list[Bar] = [replay.bar(t) for t in range(current - 1439 * MINUTE_MS, current, MINUTE_MS)]
        bars.append(replay.live_bar(now_ms))
        volume = sum((b.volume for b in bars), Decimal(0))
        quote = sum((b.quote_volume for b in bars), Decimal(0))
        last, first = bars[-1].close, bars[0].open
        count = sum(b.trades for b in bars)
        return {
            "symbol": symbol,
            "priceChange": num(last - first),
            "priceChangePercent": num((100 * (last - first) / first).quantize(Decimal("0.001"))),
            "weightedAvgPrice": num((quote / volume).quantize(Decimal("0.00001")) if volume else last),
            "lastPrice": num(last),
            "lastQty": "1",
            "openPrice": num(first),
            "highPrice": num(max(b.high for b in bars)),
            "lowPrice": num(min(b.low for b in bars)),
            "volume": num(volume),
            "quoteVolume": num(quote),
            "openTime": bars[0].open_time,
            "closeTime": now_ms,
            "firstId": 0,
            "lastId": max(count - 1, 0),
            "count": count,
        }

    def ticker_price(self, params: Params, now_ms: int) -> Json | list[Json]:
        """GET /fapi/v1/ticker/price (and v2)."""

        def one(sym: str) -> Json:
            return {"symbol": sym, "price": num(self.mark_price(sym, now_ms)), "time": now_ms}

        return one(self._symbol(params)) if "symbol" in params else [one(s) for s in self.symbols()]

    def funding_rate(self, params: Params, now_ms: int) -> list[Json]:
        """GET /fapi/v1/fundingRate: past funding times of one symbol (oldest first)."""
        symbol = self._symbol(params)
        interval = self.engine.funding_interval_ms(symbol)
        limit = min(_int(params, "limit", 100), 1000)
        end = min(_opt_int(params, "endTime") or now_ms, now_ms)
        start = _opt_int(params, "startTime")
        last = end - end % interval
        first = start + (-start) % interval if start is not None else last - (limit - 1) * interval
        times = list(range(first, last + 1, interval))[:limit]
        return [
            {
                "symbol": symbol,
                "fundingRate": num(self.engine.funding_rate(symbol, t)),
                "fundingTime": t,
                "markPrice": num(self.mark_price(symbol, t)),
            }
            for t in times
        ]

    # --- signed trading endpoints -----------------------------------------------------------

    def new_order(self, params: Params, now_ms: int) -> Json:
        """POST /fapi/v1/order (newOrderRespType ACK by default: the order as accepted)."""
        symbol = self._symbol(params)
        request = parse_new_order(params, self.engine.instrument(symbol))
        placed = self.engine.place_order(request, now_ms)
        self._drain(self._queued)
        if params.get("newOrderRespType", "ACK") == "RESULT":
            return wire_orders.new_order_ack(placed)
        accepted = Order(
            **{
                **{f: getattr(placed, f) for f in placed.__dataclass_fields__},
                "status": "NEW",
                "executed_qty": Decimal(0),
                "cum_quote": Decimal(0),
                "avg_price": Decimal(0),
                "update_time": placed.time,
            }
        )
        return wire_orders.new_order_ack(accepted)

    def _order_ref(self, params: Params) -> tuple[str, int | None, str | None]:
        symbol = self._symbol(params)
        order_id = _opt_int(params, "orderId")
        client_id = params.get("origClientOrderId") or None
        if order_id is None and client_id is None:
            raise SimError(
                -1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!"
            )
        return symbol, order_id, client_id

    def query_order(self, params: Params, now_ms: int) -> Json:
        """GET /fapi/v1/order (orderId or origClientOrderId); -2013 when unknown."""
        symbol, order_id, client_id = self._order_ref(params)
        self._sync(now_ms)
        body = wire_orders.order(self.engine.get_order(symbol, order_id, client_id))
        del body["cumQty"]
        return body

    def cancel_order(self, params: Params, now_ms: int) -> Json:
        """DELETE /fapi/v1/order (orderId or origClientOrderId); -2011 when unknown or not open."""
        symbol, order_id, client_id = self._order_ref(params)
        canceled = self.engine.cancel_order(symbol, now_ms, order_id, client_id)
        self._drain(self._queued)
        return wire_orders.new_order_ack(canceled)

    def open_orders(self, params: Params, now_ms: int) -> list[Json]:
        """GET /fapi/v1/openOrders (symbol optional)."""
        symbol = self._symbol(params) if "symbol" in params else None
        self._sync(now_ms)
        return [_without_cum_qty(wire_orders.order(o)) for o in self.engine.open_orders(symbol)]

    def all_orders(self, params: Params, now_ms: int) -> list[Json]:
        """GET /fapi/v1/allOrders (orderId = from this id, startTime/endTime, limit ≤ 1000)."""
        symbol = self._symbol(params)
        self._sync(now_ms)
        from_id, start, end = (
            _opt_int(params, "orderId"),
            _opt_int(params, "startTime"),
            _opt_int(params, "endTime"),
        )
        orders = [
            o
            for o in self.engine.orders(symbol)
            if (from_id is None or o.order_id >= from_id)
            and (start is None or o.time >= start)
            and (end is None or o.time <= end)
        ]
        limit = min(_int(params, "limit", 500), 1000)
        chosen = orders[:limit] if from_id is not None else orders[-limit:]
        return [_without_cum_qty(wire_orders.order(o)) for o in chosen]

    def user_trades(self, params: Params, now_ms: int) -> list[Json]:
        """GET /fapi/v1/userTrades (fromId, startTime/endTime, limit ≤ 1000)."""
        symbol = self._symbol(params)
        self._sync(now_ms)
        from_id, start, end = (
            _opt_int(params, "fromId"),
            _opt_int(params, "startTime"),
            _opt_int(params, "endTime"),
        )
        trades = [
            t
            for t in self.engine.trades(symbol)
            if (from_id is None or t.trade_id >= from_id)
            and (start is None or t.time >= start)
            and (end is None or t.time <= end)
        ]
        limit = min(_int(params, "limit", 500), 1000)
        chosen = trades[:limit] if from_id is not None else trades[-limit:]
        return [wire_orders.user_trade(t) for t in chosen]

    def change_leverage(self, params: Params, now_ms: int) -> Json:
        """POST /fapi/v1/leverage."""
        symbol = self._symbol(params)
        leverage = self.engine.set_leverage(symbol, _int(params, "leverage", None), now_ms)
        return {"leverage": leverage, "maxNotionalValue": "1000000000", "symbol": symbol}

    def leverage_bracket(self, params: Params, now_ms: int) -> list[Json]:
        """GET /fapi/v1/leverageBracket."""
        symbols = [self._symbol(params)] if "symbol" in params else self.symbols()
        return [wire_account.leverage_brackets(s, self.engine.config.max_leverage) for s in symbols]

    def position_side_dual(self, params: Params, now_ms: int) -> Json:
        """GET /fapi/v1/positionSide/dual -> {"dualSidePosition": false} (one-way mode only)."""
        return {"dualSidePosition": False}

    def change_position_side_dual(self, params: Params, now_ms: int) -> Json:
        """POST /fapi/v1/positionSide/dual: "false" -> -4059 (already one-way), "true" -> -1130."""
        value = mandatory(params, "dualSidePosition").lower()
        if value == "false":
            raise SimError(-4059, "No need to change position side.")
        raise SimError(-1130, "Data sent for parameter 'dualSidePosition' is not valid.")

    def income(self, params: Params, now_ms: int) -> list[Json]:
        """GET /fapi/v1/income (symbol, incomeType, startTime, endTime, limit ≤ 1000)."""
        self._sync(now_ms)
        symbol, kind = params.get("symbol"), params.get("incomeType")
        start, end = _opt_int(params, "startTime"), _opt_int(params, "endTime")
        records = [
            i
            for i in self.engine.account.income
            if (symbol is None or i.symbol == symbol)
            and (kind is None or i.income_type == kind)
            and (start is None or i.time >= start)
            and (end is None or i.time <= end)
        ]
        limit = min(_int(params, "limit", 100), 1000)
        return [wire_orders.income(i) for i in records[:limit]]

    def _figures(self, symbol: str) -> wire_account.PositionFigures:
        pos = self.engine.account.position(symbol)
        mark = self.engine.mark_price(symbol)
        notional = abs(pos.amount) * mark
        order_margin = sum((o.margin for o in self.engine.open_orders(symbol)), Decimal(0))
        return wire_account.PositionFigures(
            symbol,
            pos.amount,
            pos.entry_price,
            mark,
            self.engine.account.unrealized(symbol, mark),
            pos.leverage,
            notional / pos.leverage,
            notional * MAINT_MARGIN_RATE,
            order_margin,
            Decimal(1_000_000_000),
            pos.update_time,
        )

    def _active_symbols(self) -> list[str]:
        held = {p.symbol for p in self.engine.account.positions() if p.amount}
        held.update(o.symbol for o in self.engine.open_orders())
        return sorted(held)

    def account_v2(self, params: Params, now_ms: int) -> Json:
        """GET /fapi/v2/account (positions for every symbol)."""
        self._sync(now_ms)
        positions = [wire_account.position_v2_account(self._figures(s)) for s in self.symbols()]
        return wire_account.account_v2(self.engine.summary(), positions, now_ms)

    def account_v3(self, params: Params, now_ms: int) -> Json:
        """GET /fapi/v3/account (positions only for symbols with a position or open orders)."""
        self._sync(now_ms)
        positions = [wire_account.position_v3_account(self._figures(s)) for s in self._active_symbols()]
        return wire_account.account_v3(self.engine.summary(), positions, now_ms)

    def balance_v2(self, params: Params, now_ms: int) -> list[Json]:
        """GET /fapi/v2/balance."""
        self._sync(now_ms)
        return wire_account.balance(self.engine.summary(), now_ms)

    def balance_v3(self, params: Params, now_ms: int) -> list[Json]:
        """GET /fapi/v3/balance (same shape as v2)."""
        return self.balance_v2(params, now_ms)

    def position_risk_v2(self, params: Params, now_ms: int) -> list[Json]:
        """GET /fapi/v2/positionRisk (every symbol, or the one asked for)."""
        self._sync(now_ms)
        symbols = [self._symbol(params)] if "symbol" in params else self.symbols()
        return [wire_account.position_risk_v2(self._figures(s)) for s in symbols]

    def position_risk_v3(self, params: Params, now_ms: int) -> list[Json]:
        """GET /fapi/v3/positionRisk (symbols with a position or open orders)."""
        self._sync(now_ms)
        active = self._active_symbols()
        symbols = [s for s in active if s == params["symbol"]] if "symbol" in params else active
        if "symbol" in params:
            self._symbol(params)
        return [wire_account.position_risk_v3(self._figures(s)) for s in symbols]


def _without_cum_qty(body: Json) -> Json:
    del body["cumQty"]
    return body


def _opt_int(params: Params, name: str) -> int | None:
    text = params.get(name, "").strip()
    if not text:
        return None
    if not text.lstrip("-").isdigit():
        raise SimError(-1102, MSG_MANDATORY.format(name))
    return int(text)


def _int(params: Params, name: str, default: int | None) -> int:
    value = _opt_int(params, name)
    if value is None:
        if default is None:
            raise SimError(-1102, MSG_MANDATORY.format(name))
        return default
    return value
