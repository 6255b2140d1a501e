"""Every page rendered by Streamlit's AppTest on a seeded, an empty and a missing database, with a
fresh, a stale, an old-format and no heartbeat: no exception, and the values a trader looks for."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.dashboard import heartbeats
from tests.dashboard.conftest import CORE_PAGES, PAGES, footer, texts
from tests.dashboard.seed import Seeded

App = Callable[..., AppTest]


def _clean(test: AppTest) -> None:
    assert not test.exception, [e.message for e in test.exception]
    assert not test.error, [e.value for e in test.error]


def test_every_page_renders_on_a_seeded_database_without_an_error(
    seeded: Seeded, status_dir: Path, app: App
) -> None:
    heartbeats.write(status_dir, heartbeats.v1(interval_s=3600, symbols={s: {} for s in seeded.symbols}))
    for page in PAGES:
        test = app(page)
        _clean(test)
        assert " rendered in " in footer(test)


def test_portfolio_shows_each_open_positions_unrealized_pnl(
    seeded: Seeded, status_dir: Path, app: App
) -> None:
    btc_qty, btc_entry = seeded.open_positions["BTCUSDT"]
    mark = btc_entry + Decimal("10")  # the heartbeat's mark price, while it is fresh
    btc = {
        "position": {
            "quantity": str(btc_qty),
            "entry_price": str(btc_entry),
            "mark_price": str(mark),
            "unrealized_pnl": "5",
        }
    }
    heartbeats.write(status_dir, heartbeats.v1(interval_s=3600, symbols={"BTCUSDT": btc}))
    test = app("views/portfolio.py")
    _clean(test)
    table = test.dataframe[0].value.set_index("symbol")
    assert table.loc["BTCUSDT", "unrealized PnL"] == "5.00"  # 0.5 x (mark - entry) = 0.5 x 10
    assert table.loc["BTCUSDT", "mark from"] == "mark (heartbeat)"
    # WLDUSDT is not in the heartbeat: marked at its newest stored close
    wld_qty, wld_entry = seeded.open_positions["WLDUSDT"]
    expected = ((seeded.last_close["WLDUSDT"] - wld_entry) * wld_qty).quantize(Decimal("0.01"))
    assert table.loc["WLDUSDT", "unrealized PnL"] == f"{expected:,}"
    assert table.loc["WLDUSDT", "mark"] == str(seeded.last_close["WLDUSDT"])


def test_portfolio_sums_each_days_pnl_net_of_fees_and_funding(
    seeded: Seeded, status_dir: Path, app: App
) -> None:
    heartbeats.write(status_dir, heartbeats.v1(interval_s=3600))
    test = app("views/portfolio.py")
    _clean(test)
    daily = next(d.value for d in test.dataframe if "net" in d.value.columns and "day" in d.value.columns)
    shown = {row.day: row.net for row in daily.itertuples()}
    assert len(shown) == len(seeded.net_by_day)
    for day, net in seeded.net_by_day.items():
        assert shown[date(1970, 1, 1) + timedelta(days=day)] == pytest.approx(float(net), abs=1e-9)


def test_a_stale_heartbeat_puts_a_red_banner_on_every_page(
    seeded: Seeded, status_dir: Path, app: App
) -> None:
    heartbeats.write(status_dir, heartbeats.v1(written_at_ms=heartbeats.now_ms() - 10 * 60_000))
    for page in CORE_PAGES:
        test = app(page)
        assert not test.exception
        banners = [e.value for e in test.error]
        assert any("Heartbeat STALE" in b and "ago" in b for b in banners), banners
    health = app()
    assert [m.value for m in health.metric if m.label == "Status"] == ["STALE"]


def test_no_heartbeat_is_said_plainly_and_the_database_is_still_shown(seeded: Seeded, app: App) -> None:
    health = app()
    assert not health.exception
    assert any("No heartbeat" in e.value for e in health.error)
    assert "make run" in texts(health)
    portfolio = app("views/portfolio.py")
    assert not portfolio.exception and len(portfolio.dataframe[0].value) == len(seeded.open_positions)


def test_live_mode_wears_a_badge_that_cannot_be_missed(seeded: Seeded, status_dir: Path, app: App) -> None:
    heartbeats.write(status_dir, heartbeats.v1(mode="live", interval_s=3600))
    for page in CORE_PAGES:
        shown = texts(app(page))
        assert "LIVE — REAL MONEY" in shown and "LIVE TRADING" in shown
    heartbeats.write(status_dir, heartbeats.v1(mode="paper", interval_s=3600))
    assert "LIVE" not in texts(app())


def test_health_shows_why_entries_are_off_streams_and_the_last_error(
    seeded: Seeded, status_dir: Path, app: App
) -> None:
    blocked = {
        "entries_enabled": False,
        "entries_blocked_by": [
            {"reason": "volatility_guard", "detail": "range 1.2 % in 5 s", "until_ms": None}
        ],
    }
    heartbeats.write(status_dir, heartbeats.v1(interval_s=3600, symbols={"BTCUSDT": blocked, "ETHUSDT": {}}))
    test = app()
    _clean(test)
    entries = next(d.value for d in test.dataframe if "why off" in d.value.columns).set_index("symbol")
    assert entries.loc["BTCUSDT", "entries"] == "OFF"
    assert entries.loc["BTCUSDT", "why off"] == "volatility_guard: range 1.2 % in 5 s"
    assert entries.loc["ETHUSDT", "entries"] == "on"
    streams = next(d.value for d in test.dataframe if "stream" in d.value.columns)
    assert list(streams["stream"]) == ["market-0", "user data (listenKey 10 min 0 s)"]
    assert "socket closed by venue (1006)" in str([c.value for c in test.code])
    assert [m.value for m in test.metric if m.label == "Status"] == ["UP"]


def test_an_old_heartbeat_format_shows_what_it_has(seeded: Seeded, status_dir: Path, app: App) -> None:
    heartbeats.write(status_dir, heartbeats.old_format())
    test = app()
    _clean(test)
    assert any("Old heartbeat format" in w.value for w in test.warning)
    assert [m.value for m in test.metric if m.label == "State"] == ["running"]


def test_every_page_renders_on_an_empty_database_and_says_what_to_run(
    empty_db: str, status_dir: Path, app: App
) -> None:
    heartbeats.write(status_dir, heartbeats.v1(interval_s=3600))
    for page in CORE_PAGES:
        test = app(page)
        _clean(test)
    assert "make run" in texts(app("views/portfolio.py"))
    assert "No candles yet" in texts(app("views/market.py"))
    assert "No signal yet" in texts(app("views/signals.py"))
    for hidden in PAGES[4:]:  # alerts, reconciliation, backtests: no rows, no page
        with pytest.raises(ValueError, match=r"not a registered page|Could not find"):
            app(hidden)


def test_a_missing_database_file_is_explained_not_created(
    dashboard_env: str, tmp_path: Path, app: App
) -> None:
    for page in CORE_PAGES:
        test = app(page)
        assert not test.exception
        if page != "views/health.py":
            assert "No database yet" in texts(test) and "make run" in texts(test)
    assert not (tmp_path / "trader.db").exists()


def test_a_database_without_tables_says_to_migrate(dashboard_env: str, tmp_path: Path, app: App) -> None:
    (tmp_path / "trader.db").write_bytes(b"")
    test = app("views/portfolio.py")
    assert not test.exception
    assert "has no tables yet" in texts(test) and "db upgrade" in texts(test)


def test_market_draws_the_chart_with_vwap_bands_adx_and_markers(
    seeded: Seeded, status_dir: Path, app: App
) -> None:
    heartbeats.write(status_dir, heartbeats.v1(interval_s=3600))
    test = app("views/market.py")
    _clean(test)
    chart = test.get("plotly_chart")[0]
    figure = json.loads(chart.proto.spec)
    names = {trace.get("name") for trace in figure["data"]}
    assert {"price", "VWAP", "VWAP ± 2σ", "VWAP ± 3σ", "ADX", "entry long", "exit", "fills"} <= names
    assert "bars of" in texts(test) and "signals" in texts(test)


def test_signals_page_filters_rejections_and_lists_halts(seeded: Seeded, status_dir: Path, app: App) -> None:
    heartbeats.write(status_dir, heartbeats.v1(interval_s=3600))
    test = app("views/signals.py")
    _clean(test)
    test.segmented_control(key="signals-outcome").set_value("rejected").run()
    decisions = next(
        d.value for d in test.dataframe if "rule" in d.value.columns and "details" in d.value.columns
    )
    assert len(decisions) > 0 and not decisions["accepted"].any()
    assert set(decisions["rule"]) <= {"max_exposure", "funding_window"}
    halts = next(d.value for d in test.dataframe if "scope" in d.value.columns)
    assert list(halts["scope"]) == [seeded.symbols[-1]]
