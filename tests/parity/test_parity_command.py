"""`python -m trader parity` on the shipped data: the daemon in sim mode (simulator in-process, the
official SDK over loopback) and the backtest agree on every signal, risk decision, order, fill and
the final position, over a window in which the shipped strategy trades three round trips."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _parity(*args: str, workdir: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADER_")}
    env["PYTHONPATH"] = str(ROOT)
    env["COLUMNS"] = "200"
    return subprocess.run(
        [sys.executable, "-m", "trader", "parity", "--workdir", str(workdir), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.parametrize(
    ("start", "minutes", "orders"),
    [
        # An entry filled at a candle's open and a 24 % spike: the backtest once stopped the entry
        # out at its own fill instant, on an update the daemon sees before the fill.
        ("2023-09-16", "180", "6"),
        # An entry that fills as it is placed and is stopped out 15 s later: the daemon must have
        # the fill (its user-data event) before the next step, as the venue sends it at once.
        ("2023-09-20", "120", "6"),
    ],
)
def test_the_daemon_and_the_backtest_trade_alike_on_the_shipped_data(
    tmp_path: Path, start: str, minutes: str, orders: str
) -> None:
    done = _parity("--start", start, "--minutes", minutes, workdir=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    verdict = re.search(r"parity: (\d+) differences over (\d+) candles, (\d+) orders", done.stdout)
    assert verdict is not None, done.stdout
    assert verdict.groups() == ("0", minutes, orders)
    rows = re.findall(
        r"│ (live \(daemon\)|backtest)\s+│\s+(\d+) │\s+(\d+) │\s+(\d+) │\s+(\d+) │", done.stdout
    )
    assert len(rows) == 2 and rows[0][1:] == rows[1][1:]  # signals, decisions, orders, fills
    assert rows[0][3] == rows[0][4] == orders  # every order filled
    assert "venue order and trade ids" in done.stdout  # what differs by nature is said
    assert (tmp_path / "parity.db").exists()  # the live run's database is kept where asked


def test_a_window_without_data_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = _parity("--start", "2020-01-01", "--minutes", "60", workdir=tmp_path)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "no configured symbol has data for this window" in done.stdout + done.stderr
