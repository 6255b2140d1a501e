"""The `vwap` strategy's parameters: a frozen pydantic model, every field defaulted and described."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator


class VwapParams(BaseModel):
    """Parameters of the `vwap` strategy; every field has a default, unknown keys are an error.

    Thresholds are floats on purpose: they multiply or compare against indicator values that are
    computed in float for speed (σ, ADX, percentages), and a Decimal threshold would buy no exactness
    there. Prices that leave the strategy (Signal.price, notional, the stop price) stay Decimal.
    Every `*_pct` field is in percent (1.5 means 1.5 %), like the shipped config.yaml.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    band_k: float = Field(2.0, gt=0, le=10, description="entry band: VWAP ± band_k·σ")
    exit_band_k: float = Field(3.0, gt=0, le=20, description="stop band: beyond VWAP ± exit_band_k·σ")
    adx_period: int = Field(14, ge=2, le=200, description="Wilder ADX period (TA-Lib seeding)")
    adx_max: float = Field(20.0, gt=0, le=100, description="enter only while ADX < adx_max")
    min_candles_after_anchor: int = Field(
        30, ge=0, le=10_080, description="no entries before this many candles since the anchor"
    )
    min_sigma_pct: float = Field(
        0.02,
        ge=0,
        le=100,
        description="no entries while σ is below this percentage of the price (0: no σ floor, σ = 0 too)",
    )
    stop_loss_pct: float = Field(1.5, gt=0, le=50, description="stop this far (percent) from entry")
    max_holding_minutes: int = Field(240, ge=0, le=100_000, description="close after this long (0: never)")
    band_stop: bool = Field(True, description="also stop beyond the outer band VWAP ∓ exit_band_k·σ")
    stop_on_tick: bool = Field(
        False, description="round the % stop to the tick toward the entry (a tick-exact stop price)"
    )
    volatility_guard: bool = Field(True, description="block entries while the price jumps around")
    volatility_window_seconds: float = Field(5.0, gt=0, le=3600, description="volatility guard window")
    volatility_max_range_pct: float = Field(
        0.8, gt=0, le=100, description="guard fires when (max−min)/min over the window exceeds this"
    )
    volatility_cooldown_seconds: float = Field(
        60.0, ge=0, le=86_400, description="entries blocked this long after the last breach"
    )
    sigma_formula: Literal["west", "sums"] = Field(
        "west", description="σ by West's stable update, or Σv·p²/Σv − VWAP² on plain sums (other engines)"
    )
    anchor: Literal["day", "week"] = Field("day", description="VWAP resets each UTC day or week")
    anchor_offset_minutes: int = Field(
        0, ge=0, le=10_079, description="session start after 00:00 UTC (Monday 00:00 for week)"
    )
    live_exits: bool = Field(
        True, description="also check exits on live prices (mark, live kline), not only closed candles"
    )
    live_take_profit: bool = Field(
        True, description="with live_exits, also take profit on live prices (else only on closes)"
    )
    enter_on_exit: bool = Field(
        False, description="a close that exits may also enter the other side at the same next open"
    )
    pending_timeout_seconds: int = Field(
        300, ge=10, le=86_400, description="forget a signal with no order news after this long"
    )

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.exit_band_k <= self.band_k:
            raise ValueError(f"exit_band_k ({self.exit_band_k}) must be greater than band_k ({self.band_k})")
        if self.anchor == "day" and self.anchor_offset_minutes >= 1440:
            raise ValueError(
                f"anchor_offset_minutes must be < 1440 for a day anchor, got {self.anchor_offset_minutes}"
            )
        return self
