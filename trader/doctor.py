"""`python -m trader doctor`: check the configured venue end to end, one line per check.

    OK   <check>: <detail>
    FAIL <check>: <what is wrong> — <the fix>

Checks, in order: venue reachable (ping), server-time offset, exchangeInfo has every configured
symbol, keys valid (a signed balance call), position mode one-way, USDT balance, the market
stream delivers a message, the user-data stream acknowledges its subscription, the database is
reachable and migrated. A check whose precondition failed is not run (a stopped venue gives one
FAIL line, not nine). Exit 0 only when every check passed. Never a traceback, never a secret:
gateway errors carry Binance's code and message only, anything else is reduced to its type and
scrubbed of the configured secret values.

In sim mode the doctor checks a standalone simulator named by TRADER_REST_URL / TRADER_STREAM_URL;
without API keys in the settings it uses the simulator's default ones (as the daemon does).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from config.models import TraderConfig
from config.settings import Mode, Settings, redact_database_url
from core.errors import ConfigError, FatalError, GatewayError, IpBannedError, RetryableError
from core.events import Candle, MarkPrice
from executor.binance.endpoints import VenueEndpoints, endpoints_for
from executor.binance.gateway import Gateway
from executor.binance.market_streams import MarketStreams
from executor.binance.user_stream import UserDataStream
from utils.clock import WallClock

__all__ = ["run_doctor"]

DASH = "—"


class _Report:
    def __init__(self, out: Callable[[str], Any], secrets: list[str]) -> None:
        self._out = out
        self._secrets = [s for s in secrets if len(s) >= 4]
        self.failed = 0

    def _clean(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text.replace("\r", " ").replace("\n", " ")  # one line, whatever the message held

    def ok(self, check: str, detail: str) -> None:
        self._out(self._clean(f"OK   {check}: {detail}"))

    def fail(self, check: str, problem: str, fix: str) -> None:
        self.failed += 1
        self._out(self._clean(f"FAIL {check}: {problem} {DASH} {fix}"))


def _describe(exc: BaseException) -> str:
    if isinstance(exc, GatewayError):
        return f"{exc.code}: {exc.msg}" if exc.code is not None else exc.msg
    return type(exc).__name__


def _with_sim_keys(venue: VenueEndpoints) -> VenueEndpoints:
    if venue.mode is not Mode.SIM or venue.api_key is not None or venue.api_secret is not None:
        return venue
    from pydantic import SecretStr

    from simulator.auth import DEFAULT_API_KEY, DEFAULT_API_SECRET

    return VenueEndpoints(venue.mode, venue.rest_url, venue.stream_url, venue.ws_api_url,
                          SecretStr(DEFAULT_API_KEY), SecretStr(DEFAULT_API_SECRET))


async def run_doctor(
    settings: Settings,
    config: TraderConfig,
    *,
    out: Callable[[str], Any] = print,
    stream_timeout_s: float = 5.0,
    request_timeout_s: float = 5.0,
) -> int:
    """Run every check, print one line each through `out`; 0 when all pass, else 1."""
    report = _Report(out, settings.secret_values())
    mode = settings.mode or config.mode
    try:
        venue = _with_sim_keys(endpoints_for(settings, mode=mode))
    except ConfigError as exc:
        report.fail("venue", f"no venue URLs for mode {mode.value}",
                    f"{exc.problem.split(': ', 1)[-1]} (e.g. TRADER_REST_URL=http://127.0.0.1:PORT "
                    "and TRADER_STREAM_URL=ws://127.0.0.1:PORT for a running simulator)")
    else:
        await _venue_checks(report, venue, config, stream_timeout_s, request_timeout_s)
    await _database_check(report, settings)
    return 0 if report.failed == 0 else 1


async def _venue_checks(
    report: _Report, venue: VenueEndpoints, config: TraderConfig, stream_timeout_s: float,
    request_timeout_s: float,
) -> None:
    gateway = Gateway(venue, WallClock(), timeout_s=request_timeout_s, rate_limit_max_wait_s=2.0)
    try:
        await _gateway_checks(report, gateway, venue, config, stream_timeout_s)
    finally:
        await gateway.close()


async def _gateway_checks(
    report: _Report, gateway: Gateway, venue: VenueEndpoints, config: TraderConfig, stream_timeout_s: float,
) -> None:
    try:
        await gateway.ping()
        report.ok("venue reachable", f"{venue.mode.value} at {venue.rest_url}")
    except IpBannedError as exc:
        report.fail("venue reachable", f"this IP is banned until {exc.until_ms}",
                    "wait for the ban to end; lower the request rate")
        return
    except Exception as exc:
        report.fail("venue reachable", f"{venue.rest_url} does not answer ({_describe(exc)})",
                    "start the venue (simulator) or fix TRADER_REST_URL / the network")
        return

    try:
        offset = await gateway.sync_time(force=True)
        bound = gateway.time_sync.max_offset_ms
        if abs(offset) > bound:
            report.fail("server time", f"local clock is {offset:+d} ms off the venue (bound {bound} ms)",
                        "synchronise the host clock (NTP: chrony or systemd-timesyncd)")
        else:
            rtt = gateway.time_sync.round_trip_ms
            report.ok("server time", f"offset {offset:+d} ms, round trip {rtt} ms")
    except Exception as exc:
        report.fail("server time", f"GET /fapi/v1/time failed ({_describe(exc)})", "check the venue URL")

    known: set[str] | None = None
    try:
        info = await gateway.exchange_info()
        known = set(info.instruments)
        wanted = [s.symbol for s in config.symbols]
        missing = [s for s in wanted if s not in info.instruments]
        halted = [s for s in wanted if s in info.instruments and not info.instruments[s].is_trading]
        if missing:
            report.fail("symbols", f"not traded on this venue: {', '.join(missing)}",
                        "remove them from symbols: in the configuration or fix their spelling")
        elif halted:
            report.fail("symbols", f"not trading now: {', '.join(halted)}", "remove them or wait")
        else:
            report.ok("symbols", f"all {len(wanted)} configured symbols are traded")
    except Exception as exc:
        report.fail("symbols", f"exchangeInfo failed ({_describe(exc)})", "check the venue URL")

    keys_ok = await _key_checks(report, gateway, venue)
    # Stream a symbol the venue has, so an unknown symbol is reported once (above), not twice.
    candidates = [s.symbol for s in config.symbols if known is None or s.symbol in known]
    await _market_stream_check(report, venue, candidates, stream_timeout_s)
    if keys_ok:
        await _user_stream_check(report, gateway, venue, stream_timeout_s)


async def _key_checks(report: _Report, gateway: Gateway, venue: VenueEndpoints) -> bool:
    if not venue.has_credentials:
        report.fail("api keys", "no API key/secret configured",
                    "set TRADER_API_KEY and TRADER_API_SECRET (in the environment or .env)")
        return False
    try:
        balances = await gateway.balances()
    except FatalError as exc:
        report.fail("api keys", f"the venue refused the keys ({_describe(exc)})",
                    "check TRADER_API_KEY / TRADER_API_SECRET, the key's futures permission and IP whitelist")
        return False
    except RetryableError as exc:
        report.fail("api keys", f"signed call not possible ({_describe(exc)})",
                    "check the venue and the host clock, then run doctor again")
        return False
    except Exception as exc:
        report.fail("api keys", f"signed call failed ({_describe(exc)})", "check the keys and the venue")
        return False
    report.ok("api keys", "accepted (signed balance call)")

    try:
        if await gateway.dual_side_position():
            report.fail("position mode", "the account is in hedge mode",
                        "switch it to one-way mode (Binance: Preferences > Position Mode)")
        else:
            report.ok("position mode", "one-way")
    except Exception as exc:
        report.fail("position mode", f"query failed ({_describe(exc)})", "check the key's permissions")

    usdt = next((b for b in balances if b.asset == "USDT"), None)
    if usdt is None or usdt.available_balance <= Decimal(0):
        have = usdt.available_balance if usdt is not None else Decimal(0)
        report.fail("balance", f"USDT available {have}", "transfer USDT to the USD-M futures wallet")
    else:
        report.ok("balance", f"USDT available {usdt.available_balance} (wallet {usdt.wallet_balance})")
    return True


async def _market_stream_check(
    report: _Report, venue: VenueEndpoints, symbols: list[str], timeout_s: float
) -> None:
    if not symbols:
        report.fail("market stream", "no configured symbol is traded on this venue", "fix symbols:")
        return
    symbol = symbols[0]
    received = asyncio.Event()

    def sink(event: Candle | MarkPrice) -> None:
        received.set()

    streams = MarketStreams(venue.stream_url, WallClock(), sink, watchdog_s=timeout_s * 2)
    try:
        await streams.start([symbol])
        try:
            async with asyncio.timeout(timeout_s):
                await received.wait()
            report.ok("market stream", f"{symbol} data within {timeout_s:g} s on {streams.url}")
        except TimeoutError:
            status = streams.status()
            why = status[0].last_error if status and status[0].last_error else "connected but silent"
            report.fail("market stream", f"no {symbol} message within {timeout_s:g} s ({why})",
                        "check TRADER_STREAM_URL (the /market/stream path) and the network")
    finally:
        await streams.stop()


async def _user_stream_check(
    report: _Report, gateway: Gateway, venue: VenueEndpoints, timeout_s: float
) -> None:
    stream = UserDataStream(gateway, venue.stream_url, WallClock(), lambda event: None)
    try:
        await stream.start(wait_s=timeout_s)
        conn = stream.connection
        # The acknowledgement arrives on the socket's reader task; poll its counter briefly.
        for _ in range(max(1, int(timeout_s / 0.05))):
            if conn.acknowledged or conn.messages:
                break
            await asyncio.sleep(0.05)
        if conn.acknowledged or conn.messages:
            report.ok("user-data stream", "listenKey subscribed and acknowledged")
        else:
            why = conn.last_error or "no answer to the subscription"
            report.fail("user-data stream", f"not acknowledged within {timeout_s:g} s ({why})",
                        "check TRADER_STREAM_URL (the /private/stream path) and the key's permissions")
    except Exception as exc:
        report.fail("user-data stream", f"could not start ({_describe(exc)})", "check the keys and the venue")
    finally:
        with contextlib.suppress(Exception):
            await stream.stop()


async def _database_check(report: _Report, settings: Settings) -> None:
    from database.migrate import is_up_to_date

    where = redact_database_url(settings.database_url)
    try:
        current = await asyncio.to_thread(is_up_to_date, settings.database_url)
    except Exception as exc:
        report.fail("database", f"{where} not reachable ({type(exc).__name__})",
                    "check TRADER_DATABASE_URL and that the database server runs")
        return
    if current:
        report.ok("database", f"{where} reachable and migrated")
    else:
        report.fail("database", f"{where} is not at the newest migration",
                    "run: python -m trader db upgrade")
