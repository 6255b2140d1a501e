"""The loopback Binance USD-M futures server: REST under /fapi, WebSocket streams, faults.

The protocol-free `SimulatedExchange` decides everything about the market and the account; this
module adds only the wire: routes, parameter parsing, API keys and signatures (`auth`), rate limits
(`rate_limits`), listenKeys (`listen_keys`), stream sockets (`streams`) and injected faults (`faults`).
A driving task advances the exchange to the simulated clock's now every `tick_ms` of wall time and
fans the payloads out; each REST call advances it too, so a fill and its user-data event agree.

    exchange = SimulatedExchange.from_data(Path("data"), start_ms=clock.now_ms())
    async with SimulatorServer(exchange, clock) as server:
        ...  # server.rest_url, server.stream_url
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl

import orjson
from aiohttp import web

from simulator.auth import DEFAULT_API_KEY, DEFAULT_API_SECRET, Authenticator, Security
from simulator.errors import SimError
from simulator.exchange import SimulatedExchange
from simulator.exchange_core import USER_STREAM, Json
from simulator.faults import Fault, FaultError, FaultPlan
from simulator.listen_keys import ListenKeys
from simulator.rate_limits import (
    BINANCE_RATE_LIMITS,
    RateLimiter,
    RateLimitExceeded,
    RateLimitRule,
    request_weight,
    rules_from_exchange_info,
)
from simulator.streams import StreamHub
from utils.clock import Clock, ScaledClock, WallClock

__all__ = ["SimulatorServer"]

log = logging.getLogger(__name__)

_N, _K, _S = Security.NONE, Security.USER_STREAM, Security.SIGNED


@dataclass(frozen=True, slots=True)
class _Route:
    method: str
    endpoint: str  # the path after /fapi/vN/
    handler: str  # SimulatedExchange method, or a "_"-prefixed server method
    security: Security


def _routes() -> dict[tuple[str, str], _Route]:
    table = [
        ("GET", "v1", "ping", "ping", _N), ("GET", "v1", "time", "_time", _N),
        ("GET", "v1", "exchangeInfo", "exchange_info", _N), ("GET", "v1", "klines", "klines", _N),
        ("GET", "v1", "premiumIndex", "premium_index", _N), ("GET", "v1", "ticker/24hr", "ticker_24hr", _N),
        ("GET", "v1", "ticker/price", "ticker_price", _N), ("GET", "v2", "ticker/price", "ticker_price", _N),
        ("GET", "v1", "fundingRate", "funding_rate", _N),
        ("POST", "v1", "listenKey", "_listen_key_new", _K),
        ("PUT", "v1", "listenKey", "_listen_key_keep", _K),
        ("DELETE", "v1", "listenKey", "_listen_key_close", _K),
        ("POST", "v1", "order", "new_order", _S), ("GET", "v1", "order", "query_order", _S),
        ("DELETE", "v1", "order", "cancel_order", _S), ("GET", "v1", "openOrders", "open_orders", _S),
        ("GET", "v1", "allOrders", "all_orders", _S), ("GET", "v1", "userTrades", "user_trades", _S),
        ("POST", "v1", "leverage", "change_leverage", _S),
        ("GET", "v1", "leverageBracket", "leverage_bracket", _S),
        ("GET", "v1", "positionSide/dual", "position_side_dual", _S),
        ("POST", "v1", "positionSide/dual", "change_position_side_dual", _S),
        ("GET", "v1", "income", "income", _S),
        ("GET", "v2", "account", "account_v2", _S), ("GET", "v3", "account", "account_v3", _S),
        ("GET", "v2", "balance", "balance_v2", _S), ("GET", "v3", "balance", "balance_v3", _S),
        ("GET", "v2", "positionRisk", "position_risk_v2", _S),
        ("GET", "v3", "positionRisk", "position_risk_v3", _S),
    ]
    return {(m, f"/fapi/{v}/{e}"): _Route(m, e, h, s) for m, v, e, h, s in table}


ROUTES = _routes()


def _json_default(value: object) -> str:
    # The facade sends strings already; a stray Decimal still goes out as Binance would send it.
    if isinstance(value, Decimal):
        return format(value, "f")
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(value: Any) -> str:
    """Compact JSON, Decimals as plain strings."""
    return json.dumps(value, separators=(",", ":"), default=_json_default)


def dumps_market(payload: Json) -> str:
    """A market stream payload as compact JSON (orjson: thousands a second at Binance's cadence
    in a fast simulator; the payloads are built of str, int and bool only, as `dumps` would give)."""
    return orjson.dumps(payload, default=_json_default).decode()


def _json_response(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(text=dumps(value), status=status, content_type="application/json", headers=headers)


class SimulatorServer:
    """The simulated exchange on a real loopback port, speaking Binance's REST and WebSocket protocol.

    Market times follow `clock` (a ScaledClock); authentication, listenKey expiry and rate-limit
    windows follow `wall_clock` (the real clock by default). `rate_limits` overrides the limits the
    server enforces and advertises in exchangeInfo (tests use small ones).
    """

    def __init__(
        self,
        exchange: SimulatedExchange,
        clock: ScaledClock | Clock,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str = DEFAULT_API_KEY,
        api_secret: str = DEFAULT_API_SECRET,
        faults: FaultPlan | None = None,
        wall_clock: Clock | None = None,
        tick_ms: int = 50,
        rate_limits: Sequence[RateLimitRule] | None = None,
        ban_after: int = 3,
        ban_ms: int = 120_000,
        ping_interval_s: float = 180.0,
        pong_timeout_s: float = 600.0,
        max_streams: int = 1024,
        send_queue_size: int = 10_000,
    ) -> None:
        self.exchange = exchange
        self.clock = clock
        self.wall_clock: Clock = wall_clock or WallClock()
        self.faults = faults if faults is not None else FaultPlan()
        self.auth = Authenticator(api_key, api_secret, self.wall_clock, self.faults.skew_ms)
        self.listen_keys = ListenKeys(self.wall_clock)
        self.limiter = RateLimiter(
            rate_limits if rate_limits is not None else self._advertised_limits(),
            self.wall_clock, ban_after=ban_after, ban_ms=ban_ms,
        )
        self.hub = StreamHub(self._resolve_market, self.listen_keys, max_streams=max_streams,
                             queue_size=send_queue_size, ping_interval_s=ping_interval_s,
                             pong_timeout_s=pong_timeout_s)
        self._host, self._port, self._tick_s = host, port, tick_ms / 1000
        self._market_names: dict[str, str] = {}
        self._runner: web.AppRunner | None = None
        self._driver: asyncio.Task[None] | None = None
        self._last_tick_error = ""
        self.rest_url = self.stream_url = self.ws_api_url = ""

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind the port and start serving and driving the exchange."""
        app = web.Application()
        app.router.add_route("*", "/fapi/{tail:.*}", self._rest)
        app.router.add_route("*", "/_sim/faults", self._faults_endpoint)
        app.router.add_get("/_sim/status", self._status_endpoint)
        self.hub.add_routes(app)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        port = self._runner.addresses[0][1]
        self.rest_url = f"http://{self._host}:{port}"
        self.stream_url = f"ws://{self._host}:{port}"
        self.ws_api_url = f"ws://{self._host}:{port}/ws-fapi/v1"  # not served yet (see module doc)
        self._driver = asyncio.create_task(self._drive())

    async def stop(self) -> None:
        """Stop driving, close every socket cleanly, release the port."""
        if self._driver is not None:
            self._driver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._driver
            self._driver = None
        await self.hub.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> SimulatorServer:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()

    # --- faults --------------------------------------------------------------------------------

    def inject(self, name: str, value: str | float | None = None, **options: str | float) -> Fault:
        """Add a fault now (same names as --fault); immediate ones (ws_drop, ...) act at once."""
        fault = self.faults.add(name, value, **options)
        self._apply_immediate()
        return fault

    def _apply_immediate(self) -> None:
        for fault in self.faults.take_immediate():
            detail = ""
            if fault.name == "ws_drop":
                detail = f"{self.hub.drop_all()} sockets"
            elif fault.name == "ws_stall":
                detail = f"{self.hub.stall_all(fault.number())} sockets"
            elif fault.name == "listen_key_expire":
                detail = str(self.listen_keys.expire_now() is not None)
            elif fault.name == "force_418":
                detail = f"banned until {self.limiter.ban(int(fault.number() * 1000))}"
            self.faults.record(fault.name, detail)

    # --- the driving task ----------------------------------------------------------------------

    async def _drive(self) -> None:
        while True:
            self._tick()
            await asyncio.sleep(self._tick_s)

    def tick(self) -> int:
        """Advance the exchange to the simulated now and fan every payload out, at once (a
        driver of a step clock calls this after each step instead of waiting for the next tick);
        how many payloads it produced."""
        return self._tick()

    def _tick(self) -> int:
        """Advance the exchange to the simulated now and fan every payload out."""
        self._apply_immediate()
        wall = self.wall_clock.now_ms()
        if self.faults.ws_drop_due(wall):
            self.hub.drop_all()
        now = self.clock.now_ms()
        try:
            events = self.exchange.advance_to(now, self.hub.wanted_market())
        except Exception as exc:  # a broken engine must not kill the server: log each new failure
            if str(exc) != self._last_tick_error:
                self._last_tick_error = str(exc)
                log.exception("simulator: advance_to failed")
            events = []
        user: list[dict[str, Any]] = []
        for stream, payload in events:
            if stream == USER_STREAM:
                user.append(payload)
            elif not self.faults.skip_market(stream, int(payload.get("E", now))):
                self.hub.publish_market(stream, dumps_market(payload))
        key = self.listen_keys.current
        for payload in self.faults.filter_user(user, wall):
            if key is not None:  # without a live listenKey events go nowhere, as on Binance
                self.hub.publish_user(key, dumps(payload), str(payload.get("e", "")))
        for expired in self.listen_keys.take_expired():
            self.hub.publish_user(expired, dumps({"e": "listenKeyExpired", "E": now, "listenKey": expired}),
                                  "listenKeyExpired")
        return len(events)

    def _resolve_market(self, name: str) -> str | None:
        if not self._market_names:
            with contextlib.suppress(Exception):
                self._market_names = {s.lower(): s for s in self.exchange.market_streams()}
        return self._market_names.get(name.lower())

    def _advertised_limits(self) -> list[RateLimitRule]:
        try:
            info = self.exchange.exchange_info({}, self.clock.now_ms())
            return rules_from_exchange_info(info.get("rateLimits", [])) or list(BINANCE_RATE_LIMITS)
        except Exception:
            return list(BINANCE_RATE_LIMITS)

    # --- REST ----------------------------------------------------------------------------------

    async def _rest(self, request: web.Request) -> web.Response:
        route = ROUTES.get((request.method, request.path))
        raw_query = request.rel_url.raw_query_string
        raw_body = await request.text() if request.can_read_body else ""
        params = dict(parse_qsl(raw_query, keep_blank_values=True))
        if raw_body and request.content_type in ("application/x-www-form-urlencoded", ""):
            params.update(parse_qsl(raw_body, keep_blank_values=True))
        headers: dict[str, str] = {}
        try:
            if route is None:
                raise SimError(-5000, f"Path {request.path}, Method {request.method} is invalid", 404)
            is_order = route.handler == "new_order"
            self.limiter.admit(request_weight(route.method, route.endpoint, params), int(is_order))
            headers = self.limiter.headers()
            if self.faults.take_force_429():
                raise self.limiter.forced_429()
            if route.security is not Security.NONE:
                self.auth.check_key(request.headers.get("X-MBX-APIKEY"))
            if route.security is Security.SIGNED:
                self.auth.check_signed(raw_query, raw_body, params)
            fault = self.faults.take_rest_fault(route.method, route.endpoint)
            when = fault.options.get("when", "before") if fault and fault.name == "rest_error" else ""
            if fault is not None and when == "before":
                raise SimError(-1001, "Internal error; unable to process your request. Please try again.",
                               int(fault.options.get("status", "503")))
            rejection = self.faults.take_order_rejection() if is_order else None
            if rejection is not None:
                raise rejection
            params.pop("signature", None)
            result = self._call(route, params)
            if fault is not None and when == "after":
                raise SimError(-1007, "Timeout waiting for response from backend server. Send status "
                               "unknown; execution status unknown.", int(fault.options.get("status", "503")))
            if fault is not None and fault.name == "rest_delay":
                await asyncio.sleep(fault.number("seconds", 0))
            return _json_response(result, headers=headers)
        except RateLimitExceeded as exc:
            headers.update(self.limiter.headers())
            headers["Retry-After"] = str(exc.retry_after_s)
            return _json_response(exc.body(), exc.http_status, headers)
        except SimError as exc:
            return _json_response(exc.body(), exc.http_status, headers)
        except Exception:
            log.exception("simulator: %s %s failed", request.method, request.path)
            body = {"code": -1000, "msg": "An unknown error occured while processing the request."}
            return _json_response(body, 500, headers)

    def _call(self, route: _Route, params: dict[str, str]) -> Any:
        if route.handler.startswith("_"):
            server_handler: Callable[[dict[str, str]], Any] = getattr(self, route.handler)
            return server_handler(params)
        self._tick()  # the exchange is at the simulated now, and what it emitted is out first
        result = getattr(self.exchange, route.handler)(params, self.clock.now_ms())
        if route.handler == "exchange_info" and isinstance(result, dict):
            result = {**result, "rateLimits": [r.to_json() for r in self.limiter.rules]}
        return result

    def _time(self, params: dict[str, str]) -> dict[str, int]:
        # Server time is the authentication clock (wall + skew), never the simulated market clock.
        return {"serverTime": self.auth.server_time_ms()}

    def _listen_key_new(self, params: dict[str, str]) -> dict[str, str]:
        return {"listenKey": self.listen_keys.create()}

    def _listen_key_keep(self, params: dict[str, str]) -> dict[str, str]:
        return {"listenKey": self.listen_keys.keepalive(params.get("listenKey"))}

    def _listen_key_close(self, params: dict[str, str]) -> dict[str, str]:
        self.listen_keys.close(params.get("listenKey"))
        return {}

    # --- control endpoints (loopback only) ----------------------------------------------------

    async def _faults_endpoint(self, request: web.Request) -> web.Response:
        if request.remote not in ("127.0.0.1", "::1"):
            return _json_response({"code": -2015, "msg": "Control endpoint is loopback-only."}, 403)
        if request.method == "GET":
            return _json_response(self.faults.report())
        if request.method == "DELETE":
            self.faults.clear()
            return _json_response(self.faults.report())
        if request.method != "POST":
            return _json_response({"code": -5000, "msg": "Use GET, POST or DELETE."}, 405)
        try:
            doc = await request.json()
            for item in doc if isinstance(doc, list) else [doc]:
                if not isinstance(item, dict):
                    raise FaultError("each fault must be a JSON object")
                if "spec" in item:
                    self.faults.add_spec(str(item["spec"]))
                else:
                    options = {k: str(v) for k, v in item.items() if k not in ("name", "value")}
                    value = item.get("value")
                    self.faults.add(str(item.get("name")), None if value is None else str(value), **options)
        except (FaultError, ValueError) as exc:
            return _json_response({"code": -1100, "msg": str(exc)}, 400)
        self._apply_immediate()
        return _json_response(self.faults.report())

    async def _status_endpoint(self, request: web.Request) -> web.Response:
        return _json_response({
            "simTime": self.clock.now_ms(),
            "speed": self.clock.speed,  # a daemon pointed at this simulator follows its clock
            "wallTime": self.wall_clock.now_ms(),
            "connections": len(self.hub.connections),
            "slowDisconnects": self.hub.slow_disconnects,
            "bannedUntil": self.limiter.banned_until,
        })
