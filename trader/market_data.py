"""Market data: stream events onto the bus, closed candles into candles_1m, gaps back-filled.

The stream callback (`sink`) only publishes and remembers closed candles; the database work runs in
this service's own task on the database thread, so the stream never waits for SQLite.

candles_1m has no gaps and no duplicates across restarts and disconnects because:
- every closed candle is upserted on (symbol, open_time);
- at start-up and after every stream reconnect, the closed candles after the last stored one are
  fetched over REST and upserted (`backfill`);
- a closed candle whose open time skips a minute (a lost message) triggers a back-fill too; the gap
  is logged (`market_data.gap`) and so is the outcome (`gap_repaired`, or `gap_unrepaired` when the
  venue's klines did not have the minutes).
Back-filled candles the strategies have not seen are published on `market.<SYMBOL>` in order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Protocol

import structlog
from sqlalchemy import func
from sqlmodel import Session, col, select

from core import channels
from core.bus import Bus
from core.errors import RateLimitedError
from core.events import Candle, MarkPrice
from database.engine import CandleValues, Database, upsert_candles
from database.models import CandleRow
from utils.clock import Clock

_log = structlog.get_logger(__name__)

MINUTE_MS = 60_000
_KLINES_PAGE = 499  # the largest page of the 2-weight band (see _klines_page)


class KlineSource(Protocol):
    """The part of the gateway the service needs."""

    async def klines(
        self, symbol: str, start_time: int | None = None, end_time: int | None = None, limit: int = 500
    ) -> list[Candle]: ...


def row_to_candle(row: CandleValues) -> Candle:
    """A stored candle as a closed Candle event."""
    return Candle(
        symbol=row.symbol,
        open_time=row.open_time,
        close_time=row.close_time,
        open=Decimal(row.open),
        high=Decimal(row.high),
        low=Decimal(row.low),
        close=Decimal(row.close),
        volume=Decimal(row.volume),
        quote_volume=Decimal(row.quote_volume),
        trades=row.trades,
        closed=True,
        event_time=row.close_time,
    )


class MarketDataService:
    """Publishes stream events, persists closed candles and keeps candles_1m gap-free."""

    def __init__(self, gateway: KlineSource, db: Database, bus: Bus, clock: Clock) -> None:
        self._gateway = gateway
        self._db = db
        self._bus = bus
        self._clock = clock
        self._topics: dict[str, str] = {}
        self._last_published: dict[str, int] = {}  # open_time of the newest closed candle published
        self._held: dict[str, list[Candle]] = {}  # closed candles waiting behind a gap's back-fill
        self._pending: list[Candle] = []
        self._backfill_wanted: set[str] = set()
        self._wake = asyncio.Event()
        self.candles_stored = 0
        self.candles_backfilled = 0
        self.gaps_detected = 0
        self.backfill_failures = 0
        self.weight_waits = 0  # klines requests that waited for the request-weight budget

    def _topic(self, symbol: str) -> str:
        topic = self._topics.get(symbol)
        if topic is None:
            topic = self._topics[symbol] = channels.market(symbol)
        return topic

    # --- hot path: called from the stream callback ----------------------------------------------

    def sink(self, event: Candle | MarkPrice) -> None:
        """Publish one decoded stream event; closed candles are also queued for storage.

        A closed candle that skips minutes is held back until the missing ones are back-filled,
        so strategies always see closed candles complete and in order.
        """
        symbol = event.symbol
        if type(event) is Candle and event.closed:
            last = self._last_published.get(symbol)
            if last is not None and event.open_time <= last:
                return  # a final update repeated after a reconnect: already seen and stored
            self._pending.append(event)
            self._wake.set()
            held = self._held.get(symbol)
            if held is not None:
                held.append(event)
                return
            if last is not None and event.open_time > last + MINUTE_MS:
                self.gaps_detected += 1
                _log.warning(
                    "market_data.gap", symbol=symbol, missing_from=last + MINUTE_MS,
                    minutes=(event.open_time - last) // MINUTE_MS - 1,
                )
                self._held[symbol] = [event]
                self._backfill_wanted.add(symbol)
                return
            self._last_published[symbol] = event.open_time
        self._bus.publish(self._topic(symbol), event)

    def status(self) -> dict[str, int]:
        """Counters for the heartbeat."""
        return {
            "candles_stored": self.candles_stored,
            "candles_backfilled": self.candles_backfilled,
            "gaps_detected": self.gaps_detected,
        }

    def request_backfill(self, symbols: Iterable[str]) -> None:
        """Ask for a back-fill (after a stream reconnect); the service's task does it."""
        self._backfill_wanted.update(symbols)
        self._wake.set()

    # --- the service task -----------------------------------------------------------------------

    async def run(self) -> None:
        """Store closed candles and run requested back-fills until cancelled."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self.flush()
            wanted, self._backfill_wanted = self._backfill_wanted, set()
            for symbol in sorted(wanted):
                try:
                    await self.backfill(symbol)
                except Exception as exc:  # retried on the next wake-up; the held candles wait
                    self.backfill_failures += 1
                    _log.warning("market_data.backfill_failed", symbol=symbol, error=str(exc))
                    self._backfill_wanted.add(symbol)
                    await asyncio.sleep(1)
                    self._wake.set()

    async def flush(self) -> None:
        """Write the closed candles received since the last flush."""
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        await self._db.run(lambda s: upsert_candles(s, batch))  # the events themselves: no row objects
        self.candles_stored += len(batch)

    async def backfill(self, symbol: str) -> int:
        """Fetch, store and publish (in order) the closed candles the stream did not deliver."""
        stored_last = await self._db.run(lambda s: _last_open_time(s, symbol))
        published = self._last_published.get(symbol)
        known = [t for t in (stored_last, published) if t is not None]
        if symbol in self._held and published is not None:
            start = published + MINUTE_MS  # the gap starts right after what strategies saw
        elif known:
            start = min(known) + MINUTE_MS
        else:
            start = None
        fetched = await self._fetch(symbol, start)
        held = self._held.pop(symbol, [])
        if held and start is not None:
            _log_gap_outcome(symbol, start, held[0].open_time, {c.open_time for c in fetched})
        for candle in sorted({c.open_time: c for c in (*fetched, *held)}.values(), key=_open_time):
            if published is None or candle.open_time > published:
                self._bus.publish(self._topic(symbol), candle)
                published = candle.open_time
        if published is not None:
            self._last_published[symbol] = published
        return len(fetched)

    async def _fetch(self, symbol: str, start: int | None, *, min_candles: int = 0) -> list[Candle]:
        """Closed candles from `start` (or the latest one) to the last closed minute, stored."""
        now = self._clock.now_ms()
        last_closed_open = (now // MINUTE_MS) * MINUTE_MS - MINUTE_MS
        if start is None:
            start = last_closed_open - (max(min_candles, 1) - 1) * MINUTE_MS
        fetched: list[Candle] = []
        while start <= last_closed_open:
            page = await self._klines_page(symbol, start, last_closed_open)
            closed = [c for c in page if c.closed and start <= c.open_time <= last_closed_open]
            if not closed:
                break
            fetched.extend(closed)
            start = closed[-1].open_time + MINUTE_MS
        if fetched:
            await self._db.run(lambda s: upsert_candles(s, fetched))  # CandleRow objects cost ~60 µs each
            self.candles_backfilled += len(fetched)
            _log.info("market_data.backfilled", symbol=symbol, candles=len(fetched))
        return fetched

    async def _klines_page(self, symbol: str, start: int, last_closed_open: int) -> list[Candle]:
        """One GET /fapi/v1/klines page from `start`, as cheap as the request weight allows.

        Binance weighs klines by `limit` (1 under 100, 2 under 500, 5 up to 1000, 10 above), so the
        limit asked for is the minutes wanted, and never above 499: 2 weight for 499 candles is the
        cheapest per candle (vwap at 23:00 UTC wants 1,381 + the ADX's 560 candles: 4 pages weighing 8,
        not 1,500 + 441 weighing 12; 500 symbols: 4,000 of the 2,400 a minute instead of 6,000).
        When the shared budget is spent, wait for the next window instead of failing.
        """
        wanted = (last_closed_open - start) // MINUTE_MS + 1
        while True:
            try:
                return await self._gateway.klines(
                    symbol, start_time=start, end_time=last_closed_open + MINUTE_MS - 1,
                    limit=max(1, min(_KLINES_PAGE, wanted)),
                )
            except RateLimitedError as exc:
                self.weight_waits += 1
                _log.info("market_data.waiting_for_weight", symbol=symbol, seconds=exc.retry_after)
                await asyncio.sleep(max(exc.retry_after or 1.0, 0.1))

    async def history(self, symbol: str, count: int) -> list[Candle]:
        """The newest `count` stored closed candles, oldest first (strategy warm-up)."""
        rows = await self._db.run(lambda s: _newest(s, symbol, count))
        return [row_to_candle(r) for r in reversed(rows)]

    async def warm_up(self, symbol: str, count: int) -> list[Candle]:
        """Make sure the last `count` minutes are stored (fetching only what is missing), return them."""
        now = self._clock.now_ms()
        last_closed_open = (now // MINUTE_MS) * MINUTE_MS - MINUTE_MS
        wanted_from = last_closed_open - (count - 1) * MINUTE_MS
        stored_last = await self._db.run(lambda s: _last_open_time(s, symbol))
        stored = await self._db.run(lambda s: _count_between(s, symbol, wanted_from, last_closed_open))
        contiguous = stored_last is not None and stored == (stored_last - wanted_from) // MINUTE_MS + 1
        # A hole in the window: fetch all of it (the upsert makes overlaps harmless).
        start = stored_last + MINUTE_MS if contiguous and stored_last is not None else wanted_from
        await self._fetch(symbol, start)
        history = await self.history(symbol, count)
        if history:
            newest = history[-1].open_time
            if self._last_published.get(symbol, -1) < newest:
                self._last_published[symbol] = newest
        return history


def _log_gap_outcome(symbol: str, first_missing: int, first_held: int, fetched: set[int]) -> None:
    """One line saying whether the venue's klines filled a gap the stream left."""
    missing = [t for t in range(first_missing, first_held, MINUTE_MS) if t not in fetched]
    minutes = (first_held - first_missing) // MINUTE_MS
    if missing:
        _log.warning("market_data.gap_unrepaired", symbol=symbol, minutes=minutes, still_missing=len(missing),
                     first_missing=missing[0])
    else:
        _log.info("market_data.gap_repaired", symbol=symbol, minutes=minutes)


def _open_time(candle: Candle) -> int:
    return candle.open_time


def _last_open_time(session: Session, symbol: str) -> int | None:
    result = session.exec(select(func.max(CandleRow.open_time)).where(CandleRow.symbol == symbol)).one()
    return int(result) if result is not None else None


def _count_between(session: Session, symbol: str, start: int, end: int) -> int:
    query = select(func.count()).where(
        CandleRow.symbol == symbol, CandleRow.open_time >= start, CandleRow.open_time <= end
    )
    return int(session.exec(query).one())


_CANDLE_FIELDS = tuple(
    getattr(CandleRow, name)
    for name in ("symbol", "open_time", "close_time", "open", "high", "low", "close", "volume",
                 "quote_volume", "trades")
)


def _newest(session: Session, symbol: str, count: int) -> Sequence[CandleValues]:
    # Plain result rows, not CandleRow objects: an ORM object costs tens of µs (a day of candles for
    # 500 symbols is a million of them at start-up).
    query = (
        select(*_CANDLE_FIELDS)
        .where(CandleRow.symbol == symbol)
        .order_by(col(CandleRow.open_time).desc())
        .limit(count)
    )
    return session.execute(query).all()  # rows with the fields by name
