"""Logging set-up: structlog JSON lines to a rotating file, a readable console on a TTY, no secrets.

Everything goes through the stdlib `logging` root logger, so the Binance SDK, aiohttp and alembic
(which log through stdlib) pass through the same processors as our own structlog events:

    structlog event ──┐
                      ├─▶ root handlers ─▶ ProcessorFormatter: format exceptions ─▶ redact ─▶ render
    stdlib record  ───┘   (file: JSON lines, rotated; console: key=value, only on a TTY)

Exceptions are rendered to text *before* redaction, so a secret in an exception message or a
traceback is masked too. Redaction masks every registered secret value (at least 4 characters,
also URL-encoded), the values of sensitive keys (api_key, secret, signature, token, webhook,
password) and sensitive `key=value` / `"key": "value"` pairs and URL passwords inside any text.
"""

from __future__ import annotations

import logging
import logging.handlers
import re
import sys
import threading
from collections.abc import Iterable, Mapping
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import structlog
from pydantic import SecretBytes, SecretStr
from structlog.typing import EventDict, Processor, WrappedLogger

from utils.log_failures import CountingHandler

MASK = "***"
MIN_SECRET_LENGTH = 4  # shorter values would mask ordinary words and digits
LOG_FILE_NAME = "trader.log"
FILE_ONLY = "file_only"  # an event with `file_only=True` is kept off the console (e.g. a traceback)

_SENSITIVE = r"(?:signature|api[_-]?key|apikey|secret|token|password|passwd|webhook|authorization)"
_SENSITIVE_KEY = re.compile(_SENSITIVE, re.IGNORECASE)
_INLINE_PATTERNS: tuple[re.Pattern[str], ...] = (
    # key=value (query strings: signature=..., apiKey=...; env-style: TRADER_API_SECRET=...)
    # (starting only where a word starts: the match would start there anyway, and trying every
    # position inside a long word is quadratic)
    re.compile(rf"(?i)(?<![\w.-])([\w.-]*{_SENSITIVE}[\w.-]*=)([^&\s'\",;)}}\]]+)"),
    # "key": "value" and 'key': 'value' (JSON, dict reprs such as a headers dict)
    re.compile(rf"(?i)(['\"][\w.-]*{_SENSITIVE}[\w.-]*['\"]\s*:\s*['\"])([^'\"]+)"),
    # scheme://user:password@host
    re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^\s:/@]+:)([^\s@/]+)(?=@)"),
)

# Third-party INFO that tells nobody anything (alembic's plugin set-up on every start, per-request
# lines): their warnings and errors still reach the log.
_QUIET_BELOW_WARNING = ("alembic", "urllib3", "asyncio", "websockets", "aiohttp.access", "streamlit")

_lock = threading.Lock()
_secrets: set[str] = set()
_secret_pattern: re.Pattern[str] | None = None
_log_file: Path | None = None


# --- redaction ----------------------------------------------------------------------------------


def add_secret(value: str) -> None:
    """Mask `value` in every log line from now on (e.g. a token learned at run time)."""
    global _secret_pattern
    if not isinstance(value, str) or len(value) < MIN_SECRET_LENGTH:
        return
    with _lock:
        before = len(_secrets)
        # A secret may appear URL-encoded in a logged URL or form body.
        _secrets.update(v for v in (value, quote(value, safe=""), quote_plus(value)) if len(v) >= 4)
        if len(_secrets) != before:
            ordered = sorted(_secrets, key=len, reverse=True)  # longest first: no partial masks
            _secret_pattern = re.compile("|".join(re.escape(s) for s in ordered))


def redact_text(text: str) -> str:
    """`text` with every registered secret and every sensitive inline value replaced by `***`."""
    pattern = _secret_pattern
    if pattern is not None:
        text = pattern.sub(MASK, text)
    for inline in _INLINE_PATTERNS:
        text = inline.sub(lambda m: m.group(1) + MASK, text)
    return text


def redact(value: Any, _depth: int = 0) -> Any:
    """A JSON-ready copy of `value` with secrets masked, recursing into mappings and sequences."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return redact_text(value)
    if _depth > 20:
        return "<nested too deep>"
    if isinstance(value, Mapping):
        return {
            redact_text(str(key)): _masked(key, item) if _is_sensitive_key(key) else redact(item, _depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [redact(item, _depth + 1) for item in value]
    if isinstance(value, SecretStr | SecretBytes):
        return MASK
    if isinstance(value, Enum):
        return redact(value.value, _depth + 1)
    if isinstance(value, BaseException):
        return redact_text(f"{type(value).__name__}: {value}")
    if isinstance(value, Decimal | Path):
        return str(value)
    return redact_text(str(value))


def _is_sensitive_key(key: object) -> bool:
    return isinstance(key, str) and _SENSITIVE_KEY.search(key) is not None


def _masked(key: object, value: Any) -> Any:
    # Keep "not set" visible (None, False, ""): only a present value is a secret.
    if value is None or isinstance(value, bool) or value == "":
        return value
    return MASK


def redact_processor(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor: the event dict with every secret masked (see `redact`)."""
    return {
        str(key): _masked(key, value) if _is_sensitive_key(key) else redact(value)
        for key, value in event_dict.items()
    }


# --- configuration ------------------------------------------------------------------------------


class _OurHandler:
    """Marks the handlers configure_logging installed, so a second call replaces exactly those."""


ManagedHandler = _OurHandler  # a handler another module adds that configure_logging also replaces


class _RotatingFile(CountingHandler, logging.handlers.RotatingFileHandler, _OurHandler):
    pass


class _Console(CountingHandler, logging.StreamHandler, _OurHandler):  # type: ignore[type-arg]
    def filter(self, record: logging.LogRecord) -> bool:
        # structlog hands the event dict over as record.msg
        if isinstance(record.msg, dict) and record.msg.get(FILE_ONLY):
            return False
        return bool(super().filter(record))


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def formatter_for(renderer: Processor) -> structlog.stdlib.ProcessorFormatter:
    """Our processing for any record (time, level, exceptions as text, redaction), then `renderer`."""
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared_processors(),
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            # Exceptions become text here, before redaction, so tracebacks are masked too.
            structlog.processors.format_exc_info,
            redact_processor,
            renderer,
        ],
    )


def configure_logging(
    level: str,
    log_dir: Path,
    *,
    secrets: Iterable[str] = (),
    console: bool | None = None,
    max_bytes: int = 10 * 1024 * 1024,
    backups: int = 5,
) -> Path:
    """Send every log line (ours and third-party) to `<log_dir>/trader.log` and maybe stderr.

    The file holds JSON lines and rotates at `max_bytes` keeping `backups` old files, so the logs
    never take more than `max_bytes * (backups + 1)`. `console=None` shows human-readable lines
    on stderr only when stderr is a terminal. `secrets` are masked everywhere (see `add_secret`).
    Safe to call again: the previous handlers are closed and replaced. Returns the log file path.
    """
    global _log_file
    if max_bytes < 1 or backups < 1:
        # RotatingFileHandler with either at 0 never truncates: the size would be unbounded.
        raise ValueError(f"max_bytes and backups must be >= 1, got {max_bytes} and {backups}")
    numeric_level = logging.getLevelName(level.upper())
    if not isinstance(numeric_level, int):
        raise ValueError(f"unknown log level {level!r}")
    for value in secrets:
        add_secret(value)
    log_dir.mkdir(parents=True, exist_ok=True)
    log_file = log_dir / LOG_FILE_NAME

    handlers: list[logging.Handler] = []
    file_handler = _RotatingFile(log_file, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")
    file_handler.setFormatter(formatter_for(structlog.processors.JSONRenderer()))
    file_handler.count_failures(str(log_file))
    handlers.append(file_handler)
    stream = sys.stderr
    if console if console is not None else is_tty(stream):
        console_handler = _Console(stream)
        console_handler.setFormatter(formatter_for(structlog.dev.ConsoleRenderer(colors=is_tty(stream))))
        console_handler.count_failures("stderr")
        handlers.append(console_handler)

    for chatty in _QUIET_BELOW_WARNING:
        logging.getLogger(chatty).setLevel(logging.WARNING)
    root = logging.getLogger()
    with _lock:
        for old in [h for h in root.handlers if isinstance(h, _OurHandler)]:
            root.removeHandler(old)
            old.close()
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(numeric_level)
        structlog.configure(
            processors=[
                structlog.stdlib.filter_by_level,
                *_shared_processors(),
                structlog.stdlib.PositionalArgumentsFormatter(),
                structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
            ],
            logger_factory=structlog.stdlib.LoggerFactory(),
            wrapper_class=structlog.stdlib.BoundLogger,
            # Not cached: a module-level logger used before this call must pick up the new set-up.
            cache_logger_on_first_use=False,
        )
        _log_file = log_file
    return log_file


def reset_logging() -> None:
    """Remove and close the handlers configure_logging installed (tests, shutdown)."""
    global _log_file
    root = logging.getLogger()
    with _lock:
        for old in [h for h in root.handlers if isinstance(h, _OurHandler)]:
            root.removeHandler(old)
            old.close()
        _log_file = None


def is_configured() -> bool:
    """True once configure_logging has run in this process."""
    return _log_file is not None


def current_log_file() -> Path | None:
    """The file configure_logging writes to, or None before it ran."""
    return _log_file


def is_tty(stream: Any) -> bool:
    """True when `stream` is a terminal (a closed or odd stream is not)."""
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if callable(isatty) else False
    except ValueError:  # a closed stream
        return False
