"""What the commands say about a bad number or date in an option, and what a good one becomes: the
words a person reads after `python -m trader ... --keep -1` (exit 2, no traceback)."""

from __future__ import annotations

import pytest

from trader.cli import build_parser

DAY_MS = 86_400_000
SEPT_15_2023_MS = 1_694_736_000_000


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["parity", "--minutes", "0"], "argument --minutes: must be at least 1, got 0"),
        (["parity", "--minutes", "1.5"], "argument --minutes: expected a whole number of minutes, got '1.5'"),
        (
            ["parity", "--start", "2023/09/15"],
            "argument --start: expected a UTC date like 2023-09-15 or 2023-09-15T03:30, got '2023/09/15'",
        ),
        (["backtest", "--start", "2023-13-01"], "--start: expected a date like 2023-10-01, got '2023-13-01'"),
        (["backtest", "--end", "2023-10-01T03:30"], "argument --end: expected a date like 2023-10-01, got"),
        (["db", "backup", "--keep", "-1"], "argument --keep: must be >= 0, got -1"),
        (["db", "backup", "--keep", "all"], "argument --keep: expected a whole number, got 'all'"),
        (["dashboard", "--port", "70000"], "argument --port: must be 1..65535, got 70000"),
        (["dashboard", "--port", "0"], "argument --port: must be 1..65535, got 0"),
        (["dashboard", "--port", "web"], "argument --port: expected a port number, got 'web'"),
    ],
)
def test_a_bad_value_is_refused_in_words(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(argv)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "name", "value"),
    [
        (["parity", "--minutes", "1"], "minutes", 1),
        (["parity", "--start", "2023-09-15"], "start", SEPT_15_2023_MS),
        (["parity", "--start", "2023-09-15T03:30"], "start", SEPT_15_2023_MS + 210 * 60_000),
        (["parity", "--start", "2023-09-15 03:30"], "start", SEPT_15_2023_MS + 210 * 60_000),
        (["backtest", "--start", "2023-09-15", "--end", "2023-09-16"], "end", SEPT_15_2023_MS + DAY_MS),
        (["db", "backup", "--keep", "0"], "keep", 0),
        (["dashboard", "--port", "65535"], "port", 65535),
    ],
)
def test_a_good_value_is_read(argv: list[str], name: str, value: int) -> None:
    assert getattr(build_parser().parse_args(argv), name) == value
