"""The schema of config/config.yaml: pydantic models that reject anything they do not know.

Every model forbids unknown keys (a typo must be an error, never a silently ignored limit) and is
frozen (the running daemon compares old and new configurations). Money and limits are `Decimal`:
YAML numbers are converted through their text, so `0.4` is exactly `Decimal("0.4")`.

Problems are raised as `PydanticCustomError("config", <message>)` so that `config/loader.py` can
show the message as is after the key path; a problem that belongs to a deeper key than the validator
sees (a duplicate symbol) carries that deeper path in its context under `at`.
"""

from __future__ import annotations

import re
import socket
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from config.settings import PROJECT_ROOT, Mode
from core.alerts import KIND_DEFAULTS, AlertKind, Severity

SYMBOL_PATTERN = re.compile(r"^[A-Z0-9]{2,20}(USDT|USDC)$")


def _problem(message: str, **context: Any) -> PydanticCustomError:
    # Braces in user input must not be taken for template fields by pydantic's message formatting.
    return PydanticCustomError("config", message.replace("{", "{{").replace("}", "}}"), context or None)


def _number(value: Any) -> Any:
    """Accept YAML numbers and numeric strings, never booleans (`true` is not 1)."""
    if isinstance(value, bool):
        raise _problem(f"expected a number, got {str(value).lower()}")
    if isinstance(value, float):
        return Decimal(repr(value))  # the shortest text that round-trips: 0.4 -> Decimal("0.4")
    return value


def _whole(value: Any) -> Any:
    if isinstance(value, bool):
        raise _problem(f"expected a whole number, got {str(value).lower()}")
    return value


def _real(value: Any) -> Any:
    if isinstance(value, bool):
        raise _problem(f"expected a number, got {str(value).lower()}")
    return value


def _positive(value: Decimal) -> Decimal:
    if value <= 0:
        raise _problem(f"must be > 0, got {value}")
    return value


def _not_negative(value: Decimal) -> Decimal:
    if value < 0:
        raise _problem(f"must be >= 0, got {value}")
    return value


def _fraction(value: Decimal) -> Decimal:
    if not 0 < value <= 1:
        raise _problem(f"must be > 0 and <= 1, got {value}")
    return value


_Num = Annotated[Decimal, BeforeValidator(_number), Field(allow_inf_nan=False)]
PositiveDecimal = Annotated[_Num, AfterValidator(_positive)]
NonNegativeDecimal = Annotated[_Num, AfterValidator(_not_negative)]
Fraction = Annotated[_Num, AfterValidator(_fraction)]
PositiveInt = Annotated[int, BeforeValidator(_whole), Field(gt=0)]
NonNegativeInt = Annotated[int, BeforeValidator(_whole), Field(ge=0)]
InstanceId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]
PositiveSeconds = Annotated[float, BeforeValidator(_real), Field(gt=0, allow_inf_nan=False)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EngineConfig(_Model):
    """`engine:`: order life cycle and housekeeping intervals."""

    warmup_candles: NonNegativeInt = 300
    order_ttl_seconds: PositiveInt = 90
    reprice_on_ttl: bool = False
    order_poll_seconds: PositiveSeconds = 5.0
    heartbeat_seconds: PositiveSeconds = 5.0
    # An entry that cannot leave within this many seconds (a 429 pause) is dropped, never sent late.
    entry_send_deadline_seconds: PositiveSeconds = 5.0
    # At start-up, a venue answering 5xx or timing out is asked again for this long, then exit 1.
    startup_retry_seconds: PositiveSeconds = 60.0
    leverage: Annotated[int, BeforeValidator(_whole), Field(ge=1, le=125)] = 2
    # Entries as passive LIMIT GTC orders at the signal's price (cancelled after the TTL), or MARKET.
    entry_order_type: Literal["LIMIT", "MARKET"] = "LIMIT"
    # Several daemons on one PostgreSQL: how often each looks for symbols whose owner died
    # (their advisory lock freed) and re-proves it still holds its own (docs/scaling.md).
    lease_check_interval_s: PositiveSeconds = 10.0


class ReconcileConfig(_Model):
    """`reconcile:`: comparing our orders, fills and positions with the venue's while running."""

    interval_seconds: PositiveSeconds = 60.0
    # An open order with this daemon's client-id prefix that the database does not know (lost or
    # restored from an older backup): adopt it with its fills, or cancel it.
    unknown_orders: Literal["adopt", "cancel"] = "adopt"


class ShutdownConfig(_Model):
    """`shutdown:`: what SIGINT / SIGTERM do before the daemon exits."""

    cancel_entries: bool = True  # cancel resting entry orders (protective exits always stand)
    timeout_seconds: PositiveSeconds = 10.0


class SimulatorConfig(_Model):
    """`simulator:`: the simulated venue used by mode sim (and paper's local fills)."""

    speed: PositiveSeconds = 1.0
    data: Path = Path("data")
    starting_balance_usdt: PositiveDecimal = Decimal(10000)
    seed: Annotated[int, BeforeValidator(_whole)] = 7
    # Split every fill into this many trades, so partial fills happen (1: one trade per order).
    fill_parts: Annotated[int, BeforeValidator(_whole), Field(ge=1, le=100)] = 1
    # List this many USD-M perpetuals with real 2021 rules and real-candle price paths (scale tests;
    # simulator/many_symbols.py) instead of the data folder's own symbols. None: the data folder's.
    symbol_count: Annotated[int, BeforeValidator(_whole), Field(ge=1, le=5000)] | None = None

    @field_validator("data")
    @classmethod
    def _from_project_root(cls, value: Path) -> Path:
        # Relative to the project, not the working directory: `make run` and a service agree.
        return value if value.is_absolute() else PROJECT_ROOT / value


class BacktestConfig(_Model):
    """`backtest:`: how `python -m trader backtest` fills orders and replays candles."""

    taker_fee_bps: NonNegativeDecimal = Decimal(5)  # Binance VIP0: 0.05 %
    maker_fee_bps: NonNegativeDecimal = Decimal(2)  # 0.02 %
    slippage_bps: NonNegativeDecimal = Decimal(0)  # market orders pay this much worse than the path
    funding_rate: _Num | None = None  # a flat rate per funding time when no funding data is imported
    # How often the live stream speaks inside a candle (Binance: kline 250 ms, mark price 1 s);
    # live exits and the volatility guard see the intra-candle path at these moments.
    kline_update_ms: Annotated[int, BeforeValidator(_whole), Field(ge=1, le=60_000)] = 250
    mark_update_ms: Annotated[int, BeforeValidator(_whole), Field(ge=1, le=60_000)] = 1000


class AlertKindConfig(_Model):
    """One kind under `alerts.kinds:`: send it or not, and at which severity (unset: the default)."""

    enabled: bool | None = None
    severity: Severity | None = None

    @model_validator(mode="before")
    @classmethod
    def _switch_only(cls, data: Any) -> Any:
        # `fill: true` is short for `fill: {enabled: true}`.
        return {"enabled": data} if isinstance(data, bool) else data

    @classmethod
    def documented_keys(cls) -> list[tuple[str, str, str, str]]:
        """(key, type, default, meaning) of every kind, for the generated configuration docs."""
        return [
            (kind.value, "on/off, or {enabled, severity}",
             f"{'on' if d.enabled else 'off'}, {d.severity.value}", d.when)
            for kind, d in KIND_DEFAULTS.items()
        ]  # fmt: skip


_HH_MM = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")


def _utc_time(value: Any) -> Any:
    # YAML 1.1 reads an unquoted 12:30 as the base-60 number 750 (and 08:30 as text): accept both.
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 24 * 60:
        return f"{value // 60:02d}:{value % 60:02d}"
    if isinstance(value, str) and _HH_MM.match(value.strip()):
        return value.strip()
    raise _problem(f'expected a UTC time like "00:00" (HH:MM, 24 h), got {value!r}')


class AlertsConfig(_Model):
    """`alerts:`: which alerts go to Slack, how repeats are folded, and when the daily summary goes."""

    dedupe_window_seconds: PositiveSeconds = 300.0
    daily_summary_utc: Annotated[str, BeforeValidator(_utc_time)] | None = "00:00"  # null = no summary
    stream_down_seconds: PositiveSeconds = 30.0
    queue_size: Annotated[int, BeforeValidator(_whole), Field(ge=10, le=100_000)] = 200
    kinds: dict[AlertKind, AlertKindConfig] = Field(default_factory=dict)

    def enabled(self, kind: AlertKind) -> bool:
        """Whether alerts of `kind` are stored and sent."""
        chosen = self.kinds.get(kind)
        if chosen is not None and chosen.enabled is not None:
            return chosen.enabled
        return KIND_DEFAULTS[kind].enabled

    def severity(self, kind: AlertKind, published: Severity) -> Severity:
        """The severity an alert of `kind` is sent with: the YAML's, else what its publisher chose."""
        chosen = self.kinds.get(kind)
        return chosen.severity if chosen is not None and chosen.severity is not None else published

    @property
    def summary_time(self) -> tuple[int, int] | None:
        """(hour, minute) UTC of the daily summary, or None when it is switched off."""
        if self.daily_summary_utc is None:
            return None
        hour, minute = self.daily_summary_utc.split(":")
        return int(hour), int(minute)


class RiskLimits(_Model):
    """`risk:`: the limits the risk gate applies; global, or a symbol's merged with its overrides."""

    max_total_exposure_usdt: PositiveDecimal
    daily_loss_limit_usdt: PositiveDecimal
    daily_loss_includes_unrealized: bool = False
    # Every symbol of every daemon on the database together (None = no portfolio-wide limit).
    portfolio_daily_loss_limit_usdt: PositiveDecimal | None = None
    max_consecutive_losses: PositiveInt
    loss_cooldown_minutes: NonNegativeInt  # 0 = halted until `python -m trader resume`
    funding_window_minutes: NonNegativeInt
    max_orders_per_minute: PositiveInt
    max_exposure_usdt: PositiveDecimal
    max_daily_quantity: PositiveDecimal | None = None  # None = no cap
    allocation: Fraction


# Keys a symbol's `risk:` block may override, and whether an explicit null is meaningful there.
_NULLABLE_OVERRIDES = frozenset({"max_daily_quantity"})


class SymbolRiskOverrides(_Model):
    """A symbol's `risk:` block: any per-symbol limit; unset keys use the global value."""

    max_exposure_usdt: PositiveDecimal | None = None
    max_daily_quantity: PositiveDecimal | None = None  # explicit null = no cap for this symbol
    daily_loss_limit_usdt: PositiveDecimal | None = None
    max_consecutive_losses: PositiveInt | None = None
    loss_cooldown_minutes: NonNegativeInt | None = None
    funding_window_minutes: NonNegativeInt | None = None
    allocation: Fraction | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_null_limits(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key, value in data.items():
                if key in RiskLimits.model_fields and key not in cls.model_fields:
                    raise _problem("is a global limit only; set it in the top-level `risk:` block", at=(key,))
                if value is None and key in cls.model_fields and key not in _NULLABLE_OVERRIDES:
                    raise _problem(
                        "must be a number (leave the key out to use the global limit)", at=(key,)
                    )
        return data


class SymbolConfig(_Model):
    """One entry of `symbols:`: what to trade, with which strategy, how big, with which limits."""

    symbol: str
    strategy: str
    order_notional_usdt: PositiveDecimal
    params: dict[str, Any] = Field(default_factory=dict)
    risk: SymbolRiskOverrides | None = None

    # Set by config.loader.load_config once the strategy's own Params model accepted `params`.
    _validated_params: BaseModel | None = PrivateAttr(default=None)

    @field_validator("symbol", mode="before")
    @classmethod
    def _check_symbol(cls, value: Any) -> Any:
        if not isinstance(value, str):
            raise _problem(f"expected a symbol like BTCUSDT, got {value!r}")
        if SYMBOL_PATTERN.match(value):
            return value
        if SYMBOL_PATTERN.match(value.upper()):
            raise _problem(f"invalid symbol {value!r}: symbols are upper case, write {value.upper()}")
        raise _problem(
            f"invalid symbol {value!r}: expected a futures symbol like BTCUSDT "
            "(A-Z and 0-9, ending in USDT or USDC)"
        )

    @field_validator("strategy")
    @classmethod
    def _check_strategy(cls, value: str) -> str:
        if not value.strip():
            raise _problem("must name a strategy")
        return value

    @property
    def validated_params(self) -> BaseModel:
        """The strategy's `Params` instance for `params` (defaults filled in); set by the loader."""
        if self._validated_params is None:
            raise RuntimeError(f"{self.symbol}: params not validated; load the file with load_config")
        return self._validated_params


class TraderConfig(_Model):
    """The whole YAML file."""

    mode: Mode = Mode.SIM
    # This daemon's name in the heartbeat, `status` and alerts (default: the host name).
    instance_id: InstanceId | None = None
    engine: EngineConfig = Field(default_factory=EngineConfig)
    simulator: SimulatorConfig = Field(default_factory=SimulatorConfig)
    reconcile: ReconcileConfig = Field(default_factory=ReconcileConfig)
    shutdown: ShutdownConfig = Field(default_factory=ShutdownConfig)
    backtest: BacktestConfig = Field(default_factory=BacktestConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    risk: RiskLimits
    symbols: list[SymbolConfig]

    _limits: dict[str, RiskLimits] = PrivateAttr(default_factory=dict)

    @field_validator("symbols")
    @classmethod
    def _unique_symbols(cls, symbols: list[SymbolConfig]) -> list[SymbolConfig]:
        first: dict[str, int] = {}
        for index, entry in enumerate(symbols):
            if entry.symbol in first:
                raise _problem(
                    f"duplicate symbol {entry.symbol} (also symbols[{first[entry.symbol]}])",
                    at=(index, "symbol"),
                )
            first[entry.symbol] = index
        return symbols

    @model_validator(mode="after")
    def _merge_limits(self) -> TraderConfig:
        # Merged once here, so the risk gate's per-signal lookup is a dict read.
        for entry in self.symbols:
            limits = self.risk
            if entry.risk is not None:
                override = entry.risk.model_dump(exclude_unset=True)
                limits = self.risk.model_copy(update=override)
            self._limits[entry.symbol] = limits
        return self

    @property
    def instance_name(self) -> str:
        """`instance_id`, or the host name when it is not set."""
        return self.instance_id or socket.gethostname() or "trader"

    def risk_for(self, symbol: str) -> RiskLimits:
        """The effective limits of `symbol`: global ones with the symbol's overrides applied.

        A symbol that is not (or no longer) configured gets the global limits, so a position left
        over from a removed symbol is still governed.
        """
        return self._limits.get(symbol, self.risk)

    def symbol(self, symbol: str) -> SymbolConfig | None:
        """The entry for `symbol`, or None."""
        return next((entry for entry in self.symbols if entry.symbol == symbol), None)
