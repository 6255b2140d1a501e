"""Time `data import` of one million 1m klines (Binance archive layout) into SQLite or PostgreSQL.

    python bench/data_import.py [--rows 1000000] [--url sqlite:////tmp/bench_import.db]

Writes a synthetic kline CSV (a random walk, the archive's 12 columns and header) to a temporary
folder, imports it twice through the command's own code (the second run updates every row: the
idempotent path) and prints the rows per second of each run.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from backtest.importing import import_paths
from database.engine import make_engine, sqlite_path
from database.migrate import upgrade


def write_klines(path: Path, rows: int) -> None:
    """`rows` 1m klines from 2024-01-01, a random walk around 40000."""
    rng = random.Random(7)
    price = 40_000.0
    t = 1_704_067_200_000
    with path.open("w") as out:
        out.write(
            "open_time,open,high,low,close,volume,close_time,quote_volume,count,"
            "taker_buy_volume,taker_buy_quote_volume,ignore\n"
        )
        for _ in range(rows):
            close = round(price * (1 + rng.gauss(0, 0.001)), 1)
            high = round(max(price, close) + rng.random() * 20, 1)
            low = round(min(price, close) - rng.random() * 20, 1)
            volume = round(rng.random() * 100, 3)
            out.write(
                f"{t},{price:.1f},{high:.1f},{low:.1f},{close:.1f},{volume},{t + 59_999},"
                f"{volume * close:.4f},{rng.randint(10, 999)},0,0,0\n"
            )
            price, t = close, t + 60_000


def main() -> None:
    """Generate, import twice, report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        csv = Path(folder) / "BTCUSDT-1m-2024.csv"
        write_klines(csv, args.rows)
        url = args.url or f"sqlite:///{Path(folder) / 'bench.db'}"
        upgrade(url)
        engine = make_engine(url)
        try:
            for label in ("first import", "again (every row updated)"):
                started = time.perf_counter()
                done = import_paths(engine, [csv])
                seconds = time.perf_counter() - started
                print(f"{label}: {done.total:,} rows in {seconds:.1f} s ({done.total / seconds:,.0f} rows/s)")
        finally:
            engine.dispose()
        where = sqlite_path(url)
        print(
            f"database: {url.split('@')[-1]}" + (f" ({where.stat().st_size / 1e6:.0f} MB)" if where else "")
        )


if __name__ == "__main__":
    main()
