"""Dashboard benchmark: every page of the real app, in real headless Chromium, on 100,000 fills.

    .venv/bin/python bench/dashboard.py                 # seeds var/bench/dashboard.db once, then times
    .venv/bin/python bench/dashboard.py --reseed --fills 100000 --symbols 50 --days 7
    .venv/bin/python bench/dashboard.py --database-url postgresql+psycopg://postgres@127.0.0.1/bench

The database is seeded by tests/dashboard/seed.py (the tests' own history writer): 50 symbols x
7 days of 1m candles (504,000), 100,000 fills and as many orders, signals and risk decisions,
funding, equity snapshots, reconciliation runs, alerts, backtests. A fresh v1 heartbeat lists every
symbol. `python -m trader dashboard` serves it; Chromium (Debian's, via /usr/bin/chromedriver)
opens each page by URL and the clock stops when the page's footer is drawn (and, for chart pages,
the plotly chart), i.e. what a user waits for.

Measured per page, from the click on its sidebar link (as a user moves between pages) to the page
drawn: the first visit (its queries run for the first time: cold query cache), then revisits
(queries answered from the cache, as on every auto-refresh while nothing changed); then a load of
the page's URL afresh (a new browser session of the app: a bookmark, a reload); then Portfolio once
more after one new fill was written. The browser is warmed on the Backtests page first, so the
Streamlit and plotly JavaScript comes from the browser cache, as it does for anyone who has opened
the dashboard once. The server's own render time (from the footer) is shown beside the browser's.
Target: every page under 2 s. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from sqlalchemy import insert, text  # noqa: E402

from database.engine import make_engine, sqlite_path  # noqa: E402
from database.models import FillRow  # noqa: E402
from tests.dashboard import heartbeats  # noqa: E402
from tests.dashboard.browser import (  # noqa: E402
    RENDERED,
    chromium,
    navigate,
    open_page,
    page_errors,
    served_dashboard,
)
from tests.dashboard.seed import seed_database  # noqa: E402

TARGET_S = 2.0
PAGES = (  # (title, URL path, the key of the chart to wait for)
    ("Health", "", None),
    ("Portfolio", "portfolio", "daily-chart"),
    ("Market", "market", "market-chart"),
    ("Signals & risk", "signals", None),
    ("Alerts", "alerts", None),
    ("Reconciliation", "reconciliation", None),
    ("Backtests", "backtests", "backtest-equity"),
)
_console = Console(width=130)


def _server_ms(driver: object) -> float:
    caption = driver.find_element(By.CSS_SELECTOR, RENDERED).text  # type: ignore[attr-defined]
    match = re.search(r"rendered in ([\d,]+) ms", caption)
    return float(match.group(1).replace(",", "")) if match else float("nan")


def _prepare(args: argparse.Namespace) -> str:
    url = args.database_url or f"sqlite:///{ROOT / 'var' / 'bench' / 'dashboard.db'}"
    path = sqlite_path(url)
    if path is not None and path.exists() and not args.reseed:
        _console.print(f"using the seeded {path} (--reseed to write it again)")
        return url
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    with _console.status(f"seeding {args.fills:,} fills on {args.symbols} symbols over {args.days} days..."):
        started = time.perf_counter()
        seed_database(url, symbols=args.symbols, fills=args.fills, days=args.days, now_ms=heartbeats.now_ms())
    _console.print(f"seeded in {time.perf_counter() - started:.0f} s")
    return url


def _heartbeat(url: str, status_dir: Path) -> None:
    engine = make_engine(url)
    with engine.connect() as connection:
        symbols = [r[0] for r in connection.execute(text("SELECT symbol FROM positions ORDER BY symbol"))]
    engine.dispose()
    # A long interval: the heartbeat stays fresh while the benchmark runs (no STALE banner).
    heartbeats.write(status_dir, heartbeats.v1(interval_s=3600, symbols={s: {} for s in symbols}))


def _add_fill(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as connection:
        newest = connection.execute(text("SELECT MAX(trade_id), MAX(time) FROM fills")).one()
        connection.execute(
            insert(FillRow.__table__),
            [
                {
                    "symbol": "BTCUSDT",
                    "trade_id": int(newest[0]) + 1,
                    "order_id": 0,
                    "client_order_id": "bench",
                    "side": "SELL",
                    "price": Decimal("101"),
                    "quantity": Decimal("0.1"),
                    "commission": Decimal("0.004"),
                    "realized_pnl": Decimal("0.1"),
                    "time": int(newest[1]) + 1,
                }
            ],
        )
    engine.dispose()


def run(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """Time every page; returns {page: {figure: value}} (seconds, and the server's milliseconds)."""
    url = _prepare(args)
    status_dir = ROOT / "var" / "bench" / "status"
    _heartbeat(url, status_dir)
    results: dict[str, dict[str, float]] = {name: {} for name, _, _ in PAGES}

    def record(name: str, figure: str, seconds: float) -> None:
        results[name][figure] = max(results[name].get(figure, 0.0), seconds)
        results[name][f"server_{figure}_ms"] = max(
            results[name].get(f"server_{figure}_ms", 0.0), _server_ms(driver)
        )
        errors = page_errors(driver)
        if errors:
            raise SystemExit(f"{name} shows an error: {errors}")

    log = ROOT / "var" / "bench" / "dashboard-server.log"
    with served_dashboard(url, status_dir, log) as base, chromium() as driver:
        open_page(driver, f"{base}/backtests", "Backtests", chart="backtest-equity")  # warm the JS cache
        for round_ in range(args.rounds):  # moving through the pages as a user does
            for name, _, chart in PAGES:
                record(name, "first" if round_ == 0 else "revisit", navigate(driver, name, chart=chart))
        for name, path, chart in PAGES:  # opening a page's URL: a whole new session of the app
            record(name, "load", open_page(driver, f"{base}/{path}", name, chart=chart))
        _add_fill(url)
        record("Portfolio", "after_new_fill", navigate(driver, "Portfolio", chart="daily-chart"))
    return results


def _report(results: dict[str, dict[str, float]], args: argparse.Namespace) -> None:
    title = f"Dashboard pages in headless Chromium: {args.fills:,} fills, {args.symbols} symbols"
    table = Table(title=title)
    columns = ("page", "first visit s", "revisit s", "URL load s", "server ms (first/revisit/load)", "< 2 s")
    for column in columns:
        table.add_column(column, justify="left" if column == "page" else "right")
    for name, figures in results.items():
        worst = max(v for k, v in figures.items() if not k.startswith("server"))
        table.add_row(
            name,
            f"{figures['first']:.2f}",
            f"{figures['revisit']:.2f}",
            f"{figures['load']:.2f}",
            "/".join(f"{figures[f'server_{k}_ms']:.0f}" for k in ("first", "revisit", "load")),
            "yes" if worst < TARGET_S else "NO",
        )
    _console.print(table)
    after = results["Portfolio"]
    _console.print(
        f"Portfolio after one new fill (added to the ledger's sums): {after['after_new_fill']:.2f} s"
        f" (server {after['server_after_new_fill_ms']:.0f} ms)"
    )
    print(json.dumps({"fills": args.fills, "symbols": args.symbols, "pages": results}))


def main() -> None:
    """Parse the options, run, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None, help="default: var/bench/dashboard.db (SQLite)")
    parser.add_argument("--reseed", action="store_true", help="write the database again")
    parser.add_argument("--fills", type=int, default=100_000)
    parser.add_argument("--symbols", type=int, default=50)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=3, help="first visit + this many - 1 revisits")
    args = parser.parse_args()
    _report(run(args), args)


if __name__ == "__main__":
    main()
