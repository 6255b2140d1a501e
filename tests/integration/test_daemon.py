"""The whole daemon against its in-process simulator: it trades, takes live edits, leaks no secret."""

from __future__ import annotations

import asyncio
import itertools
import json
import shutil
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import SecretStr

from config.loader import load_config, load_settings
from config.models import TraderConfig
from config.settings import Mode, Settings
from trader.app import Daemon

SHIPPED = Path(__file__).resolve().parents[2] / "config" / "config.yaml"
pytestmark = pytest.mark.slow


def _config_file(tmp_path: Path, *, speed: int, symbols_yaml: str | None = None) -> Path:
    text = SHIPPED.read_text().replace("  speed: 600 ", f"  speed: {speed} ")
    if symbols_yaml is not None:
        text = text[: text.index("symbols:")] + symbols_yaml
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def _settings(tmp_path: Path, config: Path, **extra: object) -> Settings:
    return load_settings(
        mode="sim",
        config=config,
        database_url=f"sqlite:///{tmp_path / 'trader.db'}",
        status_dir=tmp_path / "status",
        log_dir=tmp_path / "logs",
        **extra,
    )


async def _wait_for(predicate: Callable[[], bool], within: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(0.1)


def _query(db: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


@asynccontextmanager
async def _started(settings: Settings, config: TraderConfig, path: Path) -> AsyncIterator[Daemon]:
    daemon = Daemon(settings, config, config_path=path)
    try:
        await daemon.start()
        yield daemon
    finally:
        await daemon.stop()


async def test_the_daemon_trades_and_the_database_agrees_with_the_venue(tmp_path: Path) -> None:
    # The shipped configuration with wider-open entry rules: the shipped ones (2σ bands, ADX < 20)
    # can go a whole replayed day without an entry that fills within its 90 s TTL, and this test is
    # about the order path, not about how selective the strategy is.
    path = _config_file(tmp_path, speed=600)
    wider = path.read_text().replace("band_k: 2.0", "band_k: 1.0").replace("adx_max: 20", "adx_max: 40")
    path.write_text(wider)
    settings = _settings(tmp_path, path)
    db_file = tmp_path / "trader.db"
    async with _started(settings, load_config(path), path) as daemon:
        closed_trades = "select count(*) from fills where realized_pnl != '0'"
        await _wait_for(lambda: _query(db_file, closed_trades)[0][0] >= 1, 90, "a closed trade")
        await _wait_for(lambda: not daemon.order_manager.status()["open_orders"], 30, "no open order")
        assert daemon._sim is not None
        engine = daemon._sim.server.exchange.engine
    # Read after the stop: the venue and the database are both final (it may trade until then).
    venue = {s: engine.position_snapshot(s).amount for s in ("WLDUSDT", "ADAUSDT")}
    venue = {s: q for s, q in venue.items() if q != 0}
    # Every fill belongs to an order we wrote first; positions equal the venue's.
    orphans = _query(db_file, "select count(*) from fills where client_order_id not in "
                              "(select client_order_id from orders)")
    assert orphans == [(0,)]
    assert _query(db_file, "select count(*) from orders where state = 'FILLED'")[0][0] >= 2
    stored = {s: Decimal(str(q)) for s, q in _query(db_file, "select symbol, quantity from positions")}
    # Both ways, a symbol missing on either side counting as flat: the venue lists only symbols
    # with a position, so a stale non-zero row in the database must not pass unseen.
    for symbol in set(venue) | set(stored):
        assert stored.get(symbol, Decimal(0)) == venue.get(symbol, Decimal(0)), symbol
    # Signals carry the inputs that made them fire; risk decisions were recorded.
    inputs = json.loads(str(_query(db_file, "select inputs from signals limit 1")[0][0]))
    assert {"vwap", "adx", "upper", "lower"} <= set(inputs)
    assert _query(db_file, "select count(*) from risk_decisions")[0][0] >= 2
    heartbeat = json.loads((tmp_path / "status" / "heartbeat.json").read_text())
    assert heartbeat["state"] == "stopped" and heartbeat["mode"] == "sim"


_ONE_SYMBOL = """symbols:
  - symbol: WLDUSDT
    strategy: vwap
    order_notional_usdt: 200
    params:
      band_k: 2.0
"""


async def test_symbols_are_added_removed_and_bad_edits_rejected_while_running(tmp_path: Path) -> None:
    path = _config_file(tmp_path, speed=600, symbols_yaml=_ONE_SYMBOL)
    settings = _settings(tmp_path, path)
    async with _started(settings, load_config(path), path) as daemon:
        added = _ONE_SYMBOL.replace("symbols:\n", "").replace("WLDUSDT", "BTCUSDT")
        path.write_text(path.read_text() + added)
        await _wait_for(lambda: "BTCUSDT" in daemon._runners, 15, "BTCUSDT to start")
        runner = daemon._runners["BTCUSDT"]
        await _wait_for(lambda: runner.candles >= 2, 20, "BTCUSDT candles from the stream")
        assert daemon._streams is not None and "BTCUSDT" in daemon._streams.symbols

        # Removing WLDUSDT stops its entries but keeps the task for an open position's exit.
        text = path.read_text()
        path.write_text(text.replace(_ONE_SYMBOL.replace("symbols:\n", ""), "", 1))
        wld = daemon._runners["WLDUSDT"]
        await _wait_for(lambda: not wld.strategy.entries_enabled, 15, "WLDUSDT entries to stop")
        assert not daemon._runner_tasks["WLDUSDT"].done()

        # An invalid edit is rejected with the one-line error; the running config stays.
        before = daemon.config
        path.write_text(path.read_text().replace("order_notional_usdt: 200", "order_notional_usdt: -1"))
        await _wait_for(lambda: daemon.watcher.rejected >= 1, 15, "the bad edit to be rejected")
        assert daemon.config is before
        assert daemon.watcher.last_error is not None
        assert "order_notional_usdt: must be > 0, got -1" in daemon.watcher.last_error


async def test_secrets_appear_in_no_log_row_status_file_or_slack_message(tmp_path: Path) -> None:
    from tests.alerts.slack_server import RecordingSlack

    with RecordingSlack() as slack:  # alerts go to a recording Slack on loopback, never out
        secrets = {
            "api_key": "KEYabcdefghijklmnop1234567890",
            "api_secret": "SECRETzyxwvutsrqponm0987654321",
            "slack_webhook_url": slack.webhook_url("T000/B000/XXXXSECRETXXXX"),
            "slack_bot_token": "xoxb-0000-secret-token-value",
        }
        path = _config_file(tmp_path, speed=3000)
        secret_settings = {k: SecretStr(v) for k, v in secrets.items()}
        settings = _settings(tmp_path, path, **secret_settings, log_level="DEBUG")
        from utils.logging import configure_logging, reset_logging

        configure_logging("DEBUG", tmp_path / "logs", secrets=settings.secret_values(), console=False)
        try:
            async with _started(settings, load_config(path), path) as daemon:
                await _wait_for(lambda: daemon.heartbeat.writes >= 2, 20, "heartbeats")
                await asyncio.sleep(3)
        finally:
            reset_logging()
        posts = slack.snapshot()
    assert [p.text.split(":")[0] for p in posts[:1] + posts[-1:]] == [
        "[SIM] INFO Daemon started", "[SIM] INFO Daemon stopped"
    ]
    haystacks = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file() and p.name != "config.yaml"}
    haystacks.update({Path(f"slack-post-{i}"): p.raw.encode() for i, p in enumerate(posts)})
    assert any(p.name == "trader.log" for p in haystacks) and any(p.suffix == ".json" for p in haystacks)
    for value in [*secrets.values(), "XXXXSECRETXXXX"]:
        for file, content in haystacks.items():
            assert value.encode() not in content, f"a secret leaked into {file}"


@pytest.fixture(autouse=True)
def _no_project_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # The developer's own .env must not change what these tests run against.
    for name in ("TRADER_MODE", "TRADER_REST_URL", "TRADER_STREAM_URL", "TRADER_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)


def test_shipped_config_copy_is_valid(tmp_path: Path) -> None:
    shutil.copy(SHIPPED, tmp_path / "c.yaml")
    assert load_config(tmp_path / "c.yaml").symbols


async def test_candles_have_no_gap_after_a_disconnect_and_lost_klines(tmp_path: Path) -> None:
    path = _config_file(tmp_path, speed=600)
    settings = _settings(tmp_path, path)
    db_file = tmp_path / "trader.db"
    async with _started(settings, load_config(path), path) as daemon:
        assert daemon._sim is not None and daemon._streams is not None
        streams = daemon._streams
        server = daemon._sim.server
        clock = daemon.clock
        runners = [daemon._runners[s] for s in ("WLDUSDT", "ADAUSDT")]
        await _wait_for(lambda: all(r.candles >= 2 for r in runners), 30, "candles from the stream")
        gap_from = clock.now_ms()
        server.inject("kline_gap", 5)  # five simulated minutes of kline messages never arrive
        await _wait_for(lambda: clock.now_ms() > gap_from + 6 * 60_000, 30, "the gap to pass")
        server.inject("ws_drop")  # and then every socket is cut
        await _wait_for(
            lambda: sum(s.reconnects for s in streams.status()) >= 1, 20, "the market stream to reconnect"
        )
        # The lost minutes were noticed and fetched over REST (not merely skipped).
        warm_up = 2 * daemon.config.engine.warmup_candles
        await _wait_for(
            lambda: daemon.market_data.gaps_detected >= 1 and daemon.market_data.candles_backfilled > warm_up,
            30, "the lost minutes to be back-filled",
        )  # fmt: skip
        before_stop = clock.now_ms()
        await _wait_for(lambda: clock.now_ms() > before_stop + 2 * 60_000, 30, "two more minutes")
    for symbol in ("WLDUSDT", "ADAUSDT"):
        times = [t for (t,) in _query(db_file, f"select open_time from candles_1m where symbol = '{symbol}' "
                                               "order by open_time")]
        assert len(times) > 300
        gaps = [(a, b) for a, b in itertools.pairwise(times) if b - a != 60_000]
        assert gaps == [], f"{symbol}: gaps in candles_1m after the disconnect: {gaps[:3]}"


async def test_paper_mode_reads_the_public_market_and_trades_locally(tmp_path: Path) -> None:
    from core.events import Signal, SignalAction
    from tests.integration.venue import simulated_venue

    path = _config_file(tmp_path, speed=600)
    db_file = tmp_path / "trader.db"
    async with simulated_venue(speed=600) as public:  # stands in for Binance's public market
        settings = _settings(tmp_path, path).model_copy(
            update={"mode": Mode.PAPER, "stream_url": public.server.stream_url}
        )
        async with _started(settings, load_config(path), path) as daemon:
            assert daemon._gateway is not None
            assert daemon._gateway.venue.rest_url != public.server.rest_url  # orders stay local
            runner = daemon._runners["WLDUSDT"]
            await _wait_for(lambda: runner.candles >= 3, 20, "closed candles from the public stream")
            balances = await daemon._gateway.balances()
            assert any(b.asset == "USDT" and b.wallet_balance > 0 for b in balances)
            # A signal through the real path (risk gate, order manager) fills on the local venue
            # at the public market's price.
            [last] = await public.gateway.klines("WLDUSDT", limit=1)
            # Marketable with room: at 600x a loaded machine's few seconds are many market minutes,
            # and a limit only 0.2 % above the last close was sometimes passed by the market first.
            above = last.close * Decimal("1.02")  # within PERCENT_PRICE (mark x 1.05)
            daemon.bus.publish("signal.WLDUSDT", Signal(
                "paper-entry", "WLDUSDT", "vwap", SignalAction.OPEN_LONG, "test", above,
                daemon.clock.now_ms(), notional=Decimal(100),
            ))  # fmt: skip
            filled = ("select count(*) from fills f join orders o using (client_order_id) "
                      "where o.symbol = 'WLDUSDT'")  # fmt: skip
            await _wait_for(lambda: _query(db_file, filled)[0][0] >= 1, 30, "the paper order to fill")
        # The public market never saw a listenKey or an order.
        assert public.server.listen_keys.current is None, "paper mode opened a user stream on the venue"
        for symbol in ("WLDUSDT", "ADAUSDT"):
            assert public.server.exchange.all_orders({"symbol": symbol}, public.clock.now_ms()) == []


async def test_paper_mode_lists_and_streams_a_symbol_added_to_the_yaml_while_running(tmp_path: Path) -> None:
    from tests.integration.venue import simulated_venue

    path = _config_file(tmp_path, speed=600, symbols_yaml=_ONE_SYMBOL)
    async with simulated_venue(speed=600) as public:  # lists WLDUSDT and ADAUSDT
        settings = _settings(tmp_path, path).model_copy(
            update={"mode": Mode.PAPER, "stream_url": public.server.stream_url}
        )
        async with _started(settings, load_config(path), path) as daemon:
            assert daemon._paper is not None and daemon._paper.symbols == ["WLDUSDT"]
            added = _ONE_SYMBOL.replace("symbols:\n", "").replace("WLDUSDT", "ADAUSDT")
            path.write_text(path.read_text() + added)
            await _wait_for(lambda: "ADAUSDT" in daemon._runners, 15, "ADAUSDT to start in paper mode")
            assert daemon._paper.symbols == ["ADAUSDT", "WLDUSDT"] and "ADAUSDT" in daemon._instruments
            runner = daemon._runners["ADAUSDT"]
            await _wait_for(lambda: runner.candles >= 2, 20, "ADAUSDT candles from the public stream")
            assert daemon._gateway is not None
            info = await daemon._gateway.exchange_info()
            assert "ADAUSDT" in info.instruments  # the local venue takes its orders now
