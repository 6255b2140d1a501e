"""SimulatedExchange's market side: stream payloads as simulated time moves, public market endpoints.

`advance_to(now_ms, wanted)` moves simulated time and returns `(stream, payload)` pairs in event
order: market payloads under their stream name (`adausdt@kline_1m`, `adausdt@markPrice@1s`,
`adausdt@markPrice`) and user-data payloads under the literal `USER_STREAM` ("user"). `wanted`
limits market payloads to the named streams, so 500 loaded symbols cost nothing when 2 are watched.
Kline updates come every `kline_update_ms` (250) of simulated time on a fixed grid, plus the x=true
final update of a bar at the next minute's first instant; mark prices every 1 s (`@1s`) and 3 s
(`paced_update_intervals`: Binance's cadence up to 600x, the daemon's default speed; a capped
wall-clock rate beyond).
"""

from __future__ import annotations

from collections.abc import Collection
from decimal import Decimal
from typing import Any

from simulator import wire_market
from simulator.bars import MINUTE_MS, Bar
from simulator.errors import SimError
from simulator.exchange_core import ExchangeCore, Json
from simulator.order_rules import mandatory
from simulator.request_params import Params, int_param, opt_int
from simulator.wire_values import num

# The fastest simulated time at which Binance's own cadence is kept: the daemon's default
# `simulator.speed`, so a strategy in sim mode is sent the 240 kline updates a candle Binance sends.
# Beyond it the wall-clock rate is capped at this speed's (per symbol: 2,400 kline updates and 600
# mark prices a real second), which a daemon and its in-process simulator carry on one core.
EXACT_CADENCE_MAX_SPEED = 600.0


def paced_update_intervals(speed: float) -> tuple[int, int]:
    """(kline update ms, 1 s mark price ms) of simulated time for a venue running `speed` times real time.

    Up to 600x (the daemon's default speed), Binance's cadence in simulated time: a kline update
    every 250 ms (240 per candle, as on Binance) and a mark price every 1 s (3 s without @1s).
    Faster than 600x the wall-clock rate is capped at 600x's (2,400 kline updates and 600 mark
    prices per symbol and real second): the intervals grow with the speed, so a candle gets
    240 x 600 / speed updates (48 at 3000x) and a 5-second window fewer samples. Documented in
    `--help` and the README.
    """
    stretch = max(1.0, speed / EXACT_CADENCE_MAX_SPEED)
    return int(250 * stretch), int(1000 * stretch)


class MarketEndpoints(ExchangeCore):
    """Market stream production (`advance_to`) and the public market-data REST endpoints."""

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
                                    (self._mark_ms, marks), (3 * self._mark_ms, marks3)) if on]
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
                (marks3, 3 * self._mark_ms, "@markPrice"),
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

    def _mark_payload(self, symbol: str, t: int) -> Json:
        nxt = self.engine.next_funding_time(symbol, t)
        return wire_market.mark_price_stream(
            symbol, self.engine.mark_price(symbol, t), self.engine.funding_rate(symbol, nxt), nxt, t
        )

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
        limit = min(int_param(params, "limit", 500), 1500)
        current = now_ms - now_ms % MINUTE_MS
        start, end = opt_int(params, "startTime"), opt_int(params, "endTime")
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
        limit = min(int_param(params, "limit", 100), 1000)
        end = min(opt_int(params, "endTime") or now_ms, now_ms)
        start = opt_int(params, "startTime")
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
