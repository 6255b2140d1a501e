"""Auto-refresh re-runs a query only when its tables changed, and then shows the new data."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from sqlalchemy import insert
from streamlit.testing.v1 import AppTest

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
