"""Auto-refresh re-runs a query only when its tables changed, and then shows the new data."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from sqlalchemy import insert, text
from streamlit.testing.v1 import AppTest

from dashboard.readonly import read_only_engine
from dashboard.schema import read_schema
from dashboard.versions import table_versions
from database.engine import make_engine
from database.models import FillRow
from tests.dashboard import heartbeats
from tests.dashboard.conftest import footer
from tests.dashboard.seed import Seeded

App = Callable[..., AppTest]


def _queries(test: AppTest) -> tuple[int, int]:
    match = re.search(r"(\d+) queries run, (\d+) from cache", footer(test))
    assert match, footer(test)
    return int(match.group(1)), int(match.group(2))


def _add_fill(url: str, *, trade_id: int, time: int) -> None:
    engine = make_engine(url)
    with engine.begin() as connection:
        row = {
            "symbol": "BTCUSDT",
            "trade_id": trade_id,
            "order_id": 1,
            "client_order_id": "late",
            "side": "SELL",
            "price": Decimal("123.4567"),
            "quantity": Decimal("2"),
            "commission": Decimal("0.5"),
            "realized_pnl": Decimal("40"),
            "time": time,
        }
        connection.execute(insert(FillRow.__table__), [row])
    engine.dispose()


def test_an_unchanged_database_is_not_queried_again_and_a_new_fill_is(
    seeded: Seeded, dashboard_env: str, status_dir: Path, app: App
) -> None:
    heartbeats.write(status_dir, heartbeats.v1(interval_s=3600))
    test = app("views/portfolio.py")
    ran, _ = _queries(test)
    assert ran > 0
    test.run()  # what the auto-refresh does
    assert _queries(test) == (0, ran)
    before = test.dataframe[-1].value  # recent fills, newest first
    assert before.iloc[0]["price"] != 123.4567

    newest_day = max(seeded.net_by_day)
    _add_fill(dashboard_env, trade_id=10_000_000, time=newest_day * 86_400_000 + 1000)
    test.run()
    ran_after, _ = _queries(test)
    assert 0 < ran_after < ran  # the fill queries re-ran; positions and orders came from the cache
    assert test.dataframe[-1].value.iloc[0]["price"] == 123.4567
    daily = next(d.value for d in test.dataframe if "day" in d.value.columns)
    assert daily.iloc[0]["net"] == float(seeded.net_by_day[newest_day] + Decimal("40") - Decimal("0.5"))


def test_fingerprints_change_with_in_place_updates_of_small_tables(
    seeded: Seeded, dashboard_env: str
) -> None:
    reader = read_only_engine(dashboard_env)

    def versions() -> dict[str, object]:
        with reader.connect() as connection:
            return dict(
                table_versions(connection, read_schema(connection), ("alerts", "positions", "control"))
            )

    before = versions()
    assert versions() == before  # nothing written: nothing re-runs
    writer = make_engine(dashboard_env)
    with writer.begin() as connection:  # what the alert sender and the order manager do in place
        connection.execute(text("UPDATE alerts SET status = 'delivered' WHERE status = 'undelivered'"))
    changed = versions()
    assert changed["alerts"] != before["alerts"] and changed["positions"] == before["positions"]
    with writer.begin() as connection:
        connection.execute(
            text("UPDATE positions SET quantity = '1', updated_time = 99 WHERE symbol = 'BTCUSDT'")
        )
        connection.execute(text("DELETE FROM control"))  # `python -m trader resume`
    after = versions()
    assert after["positions"] != changed["positions"] and after["control"] != changed["control"]
    writer.dispose()
    reader.dispose()
