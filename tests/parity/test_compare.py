"""The comparison of two runs: field by field, extra and missing records, no tolerance."""

from __future__ import annotations

from decimal import Decimal

from rich.console import Console

from backtest.parity import Decisions, FillRecord, OrderRecord, SignalRecord, compare, positions_from
from trader.parity import ParityResult
from trader.parity_live import LiveWindow
from trader.parity_report import print_result

T = 1_694_700_000_000


def _decisions(price: str = "1.0269", fills: int = 1) -> Decisions:
    signal = SignalRecord("WLDUSDT:vwap:OPEN_SHORT:1", T, "WLDUSDT", "OPEN_SHORT", Decimal("1.0269"), "band")
    order = OrderRecord("tr-a", T, "WLDUSDT", "SELL", "LIMIT", Decimal(195), Decimal("1.0269"), False)
    fill = [
        FillRecord("tr-a", i, T + 1000, "SELL", Decimal(price), Decimal(195), Decimal("0.04"))
        for i in range(fills)
    ]
    return Decisions([signal], [], [order], fill, positions_from(fill, {"tr-a": "WLDUSDT"}))


def test_equal_runs_have_no_difference_and_1_5_equals_1_50() -> None:
    assert compare(_decisions("1.5"), _decisions("1.50")) == []


def test_a_fill_at_another_price_is_one_difference_side_by_side() -> None:
    diffs = compare(_decisions("1.0269"), _decisions("1.0270"))
    fill = [d for d in diffs if d.kind == "fill"]
    assert [(d.key, d.field, d.live, d.backtest) for d in fill] == [("tr-a#0", "price", "1.0269", "1.0270")]
    assert any(d.kind == "position" and d.field == "entry_price" for d in diffs)


def test_a_fill_only_one_side_has_is_reported_as_missing() -> None:
    diffs = [d for d in compare(_decisions(fills=2), _decisions(fills=1)) if d.kind == "fill"]
    assert len(diffs) == 1 and diffs[0].key == "tr-a#1" and diffs[0].backtest == "—"


def test_the_report_prints_each_difference_and_the_verdict() -> None:
    live, backtest = _decisions("1.0269"), _decisions("1.0270")
    result = ParityResult(
        LiveWindow(T, T + 60_000, 2, 37_500, 37_500),
        ["WLDUSDT"],
        {},
        1,
        live,
        backtest,
        compare(live, backtest),
        0,
        3,
    )
    console = Console(record=True, width=200)
    print_result(result, console)
    text = console.export_text()
    assert "tr-a#0" in text and "1.0269" in text and "1.0270" in text
    assert f"parity: {len(result.differences)} differences over 1 candles, 1 orders" in text
