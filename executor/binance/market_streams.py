"""Market streams: kline_1m + markPrice@1s for many symbols over a few supervised sockets.

Each socket is a `SupervisedConnection` (`connection.py`); this module packs symbols onto sockets,
decodes each frame (`stream_decoding.py`) and hands the Candle / MarkPrice to the sink, a plain
function that only publishes. A sink that raises is counted and logged, never fatal.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any

import structlog

from core.events import Candle, MarkPrice
from executor.binance.connection import (
    MAX_STREAMS_PER_CONNECTION,
    ConnectionStatus,
    RateLimitedLog,
    SupervisedConnection,
)
from executor.binance.endpoints import stream_path_url
from executor.binance.stream_decoding import decode_market_payload
from utils.clock import Clock

__all__ = ["MarketStreams", "market_streams_for"]

_log = structlog.get_logger(__name__)


def market_streams_for(symbol: str) -> tuple[str, str]:
    """The two stream names of one symbol: 1m klines and the 1 s mark price."""
    lower = symbol.lower()
    return (f"{lower}@kline_1m", f"{lower}@markPrice@1s")


class MarketStreams:
    """kline_1m + markPrice@1s for many symbols over a few supervised sockets.

    `stream_url` is the venue's stream base (`/market/stream` is added); `sink(event)` receives
    each decoded Candle / MarkPrice (a plain function: it only publishes). Symbols are packed
    `streams_per_connection // 2` per socket, so 500 symbols use 5 sockets at the default 200
    (Binance allows 1024 streams a socket; 200 keeps a reconnect's resubscribe and its back-fill
    small). Control messages are paced per socket under Binance's 10 a second (`control_pacer.py`).
    `on_reconnect(callback)` registers `callback(symbols)` run after every reconnect of a socket,
    with that socket's symbols, so the owner can back-fill klines the drop may have cost.
    """

    def __init__(
        self,
        stream_url: str,
        clock: Clock,
        sink: Callable[[Candle | MarkPrice], None],
        *,
        streams_per_connection: int = 200,
        watchdog_s: float = 5.0,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        log_every_s: float = 10.0,
    ) -> None:
        if not 2 <= streams_per_connection <= MAX_STREAMS_PER_CONNECTION:
            raise ValueError(f"streams_per_connection must be 2..1024, got {streams_per_connection}")
        self.url = stream_path_url(stream_url, "market")
        self._clock = clock
        self._sink = sink
        self._per_connection = streams_per_connection // 2
        self._options: dict[str, Any] = {
            "watchdog_s": watchdog_s, "backoff_initial_s": backoff_initial_s,
            "backoff_max_s": backoff_max_s, "log_every_s": log_every_s,
        }
        self._connections: list[SupervisedConnection] = []
        self._symbols: dict[SupervisedConnection, set[str]] = {}
        self._where: dict[str, SupervisedConnection] = {}
        self._reconnect_callbacks: list[Callable[[frozenset[str]], object]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._sink_errors = RateLimitedLog(log_every_s)
        self.sink_failures = 0
        self._started = False

    # --- public API -----------------------------------------------------------------------------

    def on_reconnect(self, callback: Callable[[frozenset[str]], object]) -> None:
        """Call `callback(symbols)` after each reconnect (an awaitable result is run as a task)."""
        self._reconnect_callbacks.append(callback)

    async def start(self, symbols: Iterable[str]) -> None:
        """Open the sockets for `symbols` (upper case) and start supervising them."""
        self._started = True
        await self.add_symbols(symbols)

    async def wait_connected(self, timeout_s: float = 10.0) -> bool:
        """True once every socket has connected and subscribed at least once."""
        results = await asyncio.gather(*(c.wait_connected(timeout_s) for c in self._connections))
        return all(results)

    async def add_symbols(self, symbols: Iterable[str]) -> None:
        """Stream more symbols (live config edit): fill sockets with room, open new ones."""
        wanted = [s.upper() for s in dict.fromkeys(symbols) if s.upper() not in self._where]
        added: dict[SupervisedConnection, list[str]] = {}
        for symbol in wanted:
            conn = next((c for c in self._connections if len(self._symbols[c]) < self._per_connection), None)
            if conn is None:
                conn = self._new_connection()
            self._symbols[conn].add(symbol)
            self._where[symbol] = conn
            added.setdefault(conn, []).extend(market_streams_for(symbol))
        for conn, streams in added.items():  # one SUBSCRIBE per socket, paced by the socket
            await conn.subscribe(streams)

    async def remove_symbols(self, symbols: Iterable[str]) -> None:
        """Stop streaming symbols; a socket left with none is closed."""
        for symbol in {s.upper() for s in symbols}:
            conn = self._where.pop(symbol, None)
            if conn is None:
                continue
            self._symbols[conn].discard(symbol)
            await conn.unsubscribe(market_streams_for(symbol))
            if not self._symbols[conn]:
                self._connections.remove(conn)
                del self._symbols[conn]
                await conn.stop()

    @property
    def symbols(self) -> frozenset[str]:
        """Every symbol streamed."""
        return frozenset(self._where)

    def status(self) -> list[ConnectionStatus]:
        """One ConnectionStatus per socket."""
        return [c.status() for c in self._connections]

    async def stop(self) -> None:
        """Close every socket."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*(c.stop() for c in self._connections), return_exceptions=True)
        self._connections.clear()
        self._symbols.clear()
        self._where.clear()

    # --- internals ------------------------------------------------------------------------------

    def _new_connection(self) -> SupervisedConnection:
        index = len(self._connections)
        name = f"market-{index}"
        while any(c.name == name for c in self._connections):
            index += 1
            name = f"market-{index}"
        conn = SupervisedConnection(name, self.url, self._handle, liveness="data", **self._options)
        conn._on_connected = lambda is_reconnect, c=conn: self._connected(c, is_reconnect)
        self._connections.append(conn)
        self._symbols[conn] = set()
        if self._started:
            conn.start()
        return conn

    def _connected(self, conn: SupervisedConnection, is_reconnect: bool) -> None:
        if not is_reconnect:
            return
        symbols = frozenset(self._symbols.get(conn, ()))
        for callback in self._reconnect_callbacks:
            try:
                result = callback(symbols)
            except Exception as exc:
                _log.error("stream.on_reconnect_failed", connection=conn.name, error=repr(exc))
                continue
            if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
                task = asyncio.ensure_future(result)
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    def _handle(self, frame: dict[str, Any]) -> None:
        # Hot path: decode and hand over, nothing else.
        event = decode_market_payload(frame["data"])
        try:
            self._sink(event)
        except Exception as exc:  # the sink's failure is not a malformed message: log, go on
            self.sink_failures += 1
            self._sink_errors.warning("stream.sink_failed", error=repr(exc)[:200], total=self.sink_failures)
