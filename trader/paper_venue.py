"""The paper venue: Binance's public market data, orders filled locally by the simulator's engine.

Nothing is ever sent to Binance but public market-data requests: the simulator runs in-process on a
loopback port (as in sim mode) and serves the account, the orders and the user-data stream with the
sim API key; its prices come from a `LiveFeed` (simulator/live_feed.py) instead of replayed files:

    public stream ──MarketStreams──▶ LiveFeed ──▶ MatchingEngine (same code as sim and backtests)
    public REST (exchangeInfo, klines: history at start, gaps) ──▶ LiveFeed
    daemon: gateway REST + user-data stream ──▶ local simulator;  MarketStreams ──▶ public stream

Where the daemon's klines back-fill goes: to the LOCAL simulator, which serves the bars the feed has
received (history fetched from the public REST at start, the stream's bars since, gaps re-fetched
after a reconnect or skipped minutes). One gateway, one REST base: strategies, stored candles and
fills all see the same bars, and the daemon needs no second (unauthenticated) REST client.

URLs: the public stream is `TRADER_STREAM_URL` or Binance's `wss://fstream.binance.com`. The public
REST is `public_rest_url` if given, else Binance's REST host for a Binance stream host, else the
stream's own host and port over http(s) (a simulator serves both on one port: that is how tests
point paper mode at a second simulator). The daemon's clock is the wall clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import structlog

from config.models import TraderConfig
from config.settings import Mode
from core.errors import FatalError, GatewayError
from core.instruments import Instrument
from executor.binance.endpoints import VENUE_DEFAULTS
from executor.binance.gateway import Gateway
from executor.binance.market_streams import MarketStreams
from simulator.auth import DEFAULT_API_KEY, DEFAULT_API_SECRET
from simulator.bars import MINUTE_MS
from simulator.engine_types import EngineConfig
from simulator.exchange import SimulatedExchange
from simulator.exchange_info import instruments_of
from simulator.live_feed import LiveFeed, LiveSeries, bar_from_rest_row
from simulator.server import SimulatorServer
from utils.clock import WallClock

__all__ = ["PaperVenue", "PublicMarketRest", "public_rest_url_for", "start_paper_venue"]

_log = structlog.get_logger(__name__)

_KLINES_PAGE = 1500  # Binance's maximum per request
# Binance's public stream hosts and the REST host of the same venue.
_REST_FOR_STREAM_HOST = {
    "fstream.binance.com": "https://fapi.binance.com",
    "fstream.binancefuture.com": "https://testnet.binancefuture.com",
}


class _SettingsLike(Protocol):
    stream_url: str | None
    rest_url: str | None


def public_rest_url_for(stream_url: str) -> str:
    """The public REST base of the venue whose public stream base is `stream_url`."""
    parts = urlsplit(stream_url)
    known = _REST_FOR_STREAM_HOST.get(parts.hostname or "")
    if known is not None:
        return known
    scheme = {"wss": "https", "ws": "http"}.get(parts.scheme, parts.scheme)
    return urlunsplit((scheme, parts.netloc, "", "", "")).rstrip("/")


class PublicMarketRest:
    """Binance's public market-data REST (exchangeInfo, klines): unsigned GETs, nothing else."""

    def __init__(self, base_url: str, session: aiohttp.ClientSession) -> None:
        self.base_url = base_url
        self._session = session
        self.requests = 0

    async def close(self) -> None:
        """Close the HTTP session."""
        await self._session.close()

    async def get(self, path: str, params: dict[str, str]) -> Any:
        """GET `path`; FatalError (one line, no traceback) when it fails."""
        url = self.base_url + path
        self.requests += 1
        try:
            async with self._session.get(url, params=params) as response:
                if response.status != 200:
                    raise FatalError(
                        f"paper: public market data {url} answered HTTP {response.status}; "
                        "check TRADER_STREAM_URL / the public REST URL"
                    )
                return await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise FatalError(
                f"paper: public market data {url} unreachable ({type(exc).__name__}); "
                "check the network or TRADER_STREAM_URL / the public REST URL"
            ) from None

    async def exchange_info(self) -> dict[str, Any]:
        """GET /fapi/v1/exchangeInfo."""
        doc = await self.get("/fapi/v1/exchangeInfo", {})
        if not isinstance(doc, dict) or not isinstance(doc.get("symbols"), list):
            raise FatalError(f"paper: {self.base_url}/fapi/v1/exchangeInfo is not an exchangeInfo document")
        return doc

    async def klines_into(self, series: LiveSeries, *, start: int | None = None, count: int = 0) -> int:
        """Fetch 1m bars into `series`: every one from `start` on, or else the newest `count`."""
        fetched = 0
        end: int | None = None
        while True:
            params = {"symbol": series.symbol, "interval": "1m"}
            if start is not None:
                params.update(startTime=str(start), limit=str(_KLINES_PAGE))
            else:
                params["limit"] = str(min(_KLINES_PAGE, max(count - fetched, 1)))
                if end is not None:
                    params["endTime"] = str(end)
            rows = await self.get("/fapi/v1/klines", params)
            if not isinstance(rows, list):
                raise FatalError(f"paper: {self.base_url}/fapi/v1/klines did not answer a list of klines")
            try:
                bars = [bar_from_rest_row(row) for row in rows]
            except (TypeError, ValueError, IndexError, ArithmeticError):
                raise FatalError(f"paper: {self.base_url}/fapi/v1/klines: unreadable kline row") from None
            series.add_history(bars)
            fetched += len(bars)
            if not bars or len(bars) < int(params["limit"]):
                return fetched
            if start is not None:
                start = bars[-1].open_time + MINUTE_MS
            elif fetched >= count:
                return fetched
            else:
                end = bars[0].open_time - 1


@dataclass(slots=True)
class PaperVenue:
    """A running paper venue: the local simulator on live prices, and where the daemon connects.

    `rest_url` (orders, account, listenKey, klines) and `user_stream_url` are the local simulator's;
    `stream_url` is the PUBLIC market stream the daemon's MarketStreams read.
    """

    exchange: SimulatedExchange
    server: SimulatorServer
    feed: LiveFeed
    streams: MarketStreams
    public: PublicMarketRest
    clock: WallClock
    public_stream_url: str
    history_candles: int = 0  # bars of history fetched for a symbol before it trades
    api_key: str = DEFAULT_API_KEY
    api_secret: str = DEFAULT_API_SECRET
    backfilled: int = 0
    backfill_failures: int = 0
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    @property
    def rest_url(self) -> str:
        """The local simulator's REST base: the daemon's gateway (orders, account, klines)."""
        return self.server.rest_url

    @property
    def user_stream_url(self) -> str:
        """The local simulator's stream base: the daemon's user-data stream (listenKey)."""
        return self.server.stream_url

    @property
    def stream_url(self) -> str:
        """The PUBLIC market stream base: the daemon's MarketStreams."""
        return self.public_stream_url

    @property
    def public_rest_url(self) -> str:
        """The public market-data REST base the venue reads history and gaps from."""
        return self.public.base_url

    @property
    def symbols(self) -> list[str]:
        """The symbols this venue lists (the configured ones the public venue trades)."""
        return self.exchange.symbols()

    async def stop(self) -> None:
        """Stop the feed, the back-fills and the local simulator; release the port."""
        await self.streams.stop()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.public.close()
        await self.server.stop()

    def status(self) -> dict[str, Any]:
        """For the heartbeat: where it serves, what it reads, how fresh the live prices are."""
        stats = self.feed.stats()
        now = self.clock.now_ms()
        return {
            "rest_url": self.rest_url,
            "user_stream_url": self.user_stream_url,
            "public_stream_url": self.public_stream_url,
            "public_rest_url": self.public_rest_url,
            "symbols": self.symbols,
            "feed_candles": stats.candles,
            "feed_gaps": stats.gaps,
            "feed_last_update_age_ms": None if stats.last_update_ms is None else now - stats.last_update_ms,
            "backfilled_bars": self.backfilled,
            "backfill_failures": self.backfill_failures,
            "connections": [c.as_dict() for c in self.streams.status()],
        }

    async def add_symbols(self, symbols: Iterable[str]) -> list[str]:
        """List more symbols at run time (a live YAML edit): their rules and history from the public
        market, then their stream. Returns those added; one the public venue does not list is not.
        Raises FatalError (one line) when the public market cannot be read."""
        wanted = [s for s in dict.fromkeys(symbols) if s not in self.feed.series]
        if not wanted:
            return []
        doc = await self.public.exchange_info()
        entries = {
            s["symbol"]: s for s in doc["symbols"] if isinstance(s, dict) and s.get("symbol") in wanted
        }
        added: list[str] = []
        for symbol, entry in entries.items():
            try:
                instruments_of({"symbols": [entry]})
            except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
                _log.error("paper.symbol_unreadable", symbol=symbol, error=str(exc))
                continue
            series = self.feed.add_symbol(symbol)
            await self.public.klines_into(series, count=self.history_candles)
            self.exchange.add_market(entry, series)
            added.append(symbol)
        await self.streams.add_symbols(added)
        _log.info("paper.symbols_added", symbols=added, not_listed=sorted(set(wanted) - set(entries)))
        return added

    async def list_symbols(
        self, symbols: list[str], gateway: Gateway, instruments: dict[str, Instrument]
    ) -> None:
        """A live YAML edit added `symbols`: list them here, then learn their rules from `gateway`
        into `instruments` (the order manager and the risk gate share that dict, so they see them
        at once). A failure is logged: the edit stays, these symbols just do not start."""
        if not symbols:
            return
        try:
            if await self.add_symbols(symbols):
                info = await gateway.exchange_info()
                instruments.update(info.instruments)
        except GatewayError as exc:
            _log.error("config.symbols_unavailable", symbols=symbols, error=str(exc))

    def request_backfill(self, symbols: Iterable[str]) -> None:
        """Re-fetch from the public REST what the feed may have missed (reconnect, skipped minutes)."""
        task = asyncio.ensure_future(self._backfill(sorted(set(symbols))))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _backfill(self, symbols: list[str]) -> None:
        for symbol in symbols:
            series = self.feed.series.get(symbol)
            start = series.refetch_from() if series is not None else None
            if series is None or start is None:
                continue
            try:
                self.backfilled += await self.public.klines_into(series, start=start)
            except FatalError as exc:  # the stream still runs; the next gap or reconnect retries
                self.backfill_failures += 1
                _log.warning("paper.backfill_failed", symbol=symbol, error=str(exc))


async def start_paper_venue(
    config: TraderConfig,
    settings: _SettingsLike,
    *,
    public_rest_url: str | None = None,
    engine_config: EngineConfig | None = None,
    timeout_s: float = 10.0,
    stream_watchdog_s: float = 5.0,
) -> PaperVenue:
    """Read the public market, start the local simulator on it, return where the daemon connects.

    Fetches exchangeInfo (the configured symbols the public venue lists) and `warmup_candles` of
    history per symbol from the public REST, opens the public market stream, and serves the
    local simulator on 127.0.0.1 (a free port). `engine_config` defaults to sim mode's engine
    (fees, slippage) with the configured starting balance. Raises FatalError (one line, no
    traceback) when the public market data cannot be read.
    """
    stream_url = (settings.stream_url or VENUE_DEFAULTS[Mode.LIVE].stream_url).rstrip("/")
    # TRADER_REST_URL names the public market-data REST here: orders never leave this process.
    rest_url = (public_rest_url or settings.rest_url or public_rest_url_for(stream_url)).rstrip("/")
    clock = WallClock()
    public = PublicMarketRest(rest_url, aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s)))
    try:
        return await _start(config, clock, public, stream_url, engine_config, stream_watchdog_s)
    except BaseException:
        await public.close()
        raise


async def _start(
    config: TraderConfig,
    clock: WallClock,
    public: PublicMarketRest,
    stream_url: str,
    engine_config: EngineConfig | None,
    stream_watchdog_s: float,
) -> PaperVenue:
    doc = await public.exchange_info()
    listed = {s.get("symbol") for s in doc["symbols"] if isinstance(s, dict)}
    # Only the configured symbols: a symbol the public venue does not list is left out, and the
    # daemon's own exchangeInfo check names it ("not traded on this venue").
    symbols = [s.symbol for s in config.symbols if s.symbol in listed]
    doc = {
        **doc,
        "symbols": [s for s in doc["symbols"] if isinstance(s, dict) and s.get("symbol") in symbols],
    }
    try:
        instruments_of(doc)
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise FatalError(
            f"paper: {public.base_url}/fapi/v1/exchangeInfo: unreadable symbol rules ({exc})"
        ) from None

    venue_box: list[PaperVenue] = []  # the feed's gap callback needs the venue built below
    feed = LiveFeed(
        symbols,
        clock.now_ms,
        on_gap=lambda symbol: venue_box[0].request_backfill([symbol]) if venue_box else None,
        max_bars=max(3000, config.engine.warmup_candles + 1500),
    )
    base = engine_config or EngineConfig()
    engine = EngineConfig(
        **{
            **{f: getattr(base, f) for f in base.__dataclass_fields__},
            "starting_balance": Decimal(config.simulator.starting_balance_usdt),
            "fill_parts": config.simulator.fill_parts,
        }
    )
    history = config.engine.warmup_candles + 2
    for symbol in symbols:
        await public.klines_into(feed.series[symbol], count=history)
    # Funding at the public market's own times and announced rates (markPrice T and r).
    exchange = SimulatedExchange(doc, feed.markets, start_ms=clock.now_ms(), config=engine, funding=feed)
    server = SimulatorServer(
        exchange, clock, api_key=DEFAULT_API_KEY, api_secret=DEFAULT_API_SECRET, wall_clock=clock
    )
    streams = MarketStreams(stream_url, clock, feed.sink, watchdog_s=stream_watchdog_s)
    venue = PaperVenue(exchange, server, feed, streams, public, clock, stream_url, history_candles=history)
    venue_box.append(venue)

    def on_reconnect(reconnected: frozenset[str]) -> None:
        feed.mark_gap(reconnected)
        venue.request_backfill(reconnected)

    streams.on_reconnect(on_reconnect)
    await server.start()
    try:
        await streams.start(symbols)
        if symbols and not await streams.wait_connected(10.0):
            _log.warning("paper.stream_not_connected", url=stream_url)  # the supervisor keeps trying
    except BaseException:
        await streams.stop()
        await server.stop()
        raise
    _log.info(
        "paper.started",
        rest_url=server.rest_url,
        public_stream_url=stream_url,
        public_rest_url=public.base_url,
        symbols=symbols,
    )
    return venue
