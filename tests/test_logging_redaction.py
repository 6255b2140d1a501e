"""Logging: JSON lines in a rotating file, console on request, and no secret anywhere in either."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from pydantic import SecretStr

from config.settings import Settings
from utils.logging import FILE_ONLY, add_secret, configure_logging, reset_logging

API_KEY = "AKxq7Pz3KeyValue9"
API_SECRET = "s3cr3t-Value-Zq81"
DB_PASSWORD = "pgPass#4471"
RUNTIME_TOKEN = "rt-Token-55aa"
UNREGISTERED = "unregisteredValue77"
ALL_SECRETS = (API_KEY, API_SECRET, DB_PASSWORD, RUNTIME_TOKEN, UNREGISTERED)


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    level = root.level
    saved = structlog.get_config()
    yield
    reset_logging()
    root.setLevel(level)
    structlog.configure(**saved)
    structlog.contextvars.clear_contextvars()


def log_text(log_dir: Path) -> str:
    return "".join(path.read_text(encoding="utf-8") for path in sorted(log_dir.iterdir()))


def test_no_secret_reaches_the_file_or_the_console(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(
        _env_file=None,
        api_key=API_KEY,
        api_secret=API_SECRET,
        database_url=f"postgresql+psycopg://trader:{DB_PASSWORD.replace('#', '%23')}@127.0.0.1/trader",
    )
    configure_logging("DEBUG", tmp_path, secrets=settings.secret_values(), console=True)
    add_secret(RUNTIME_TOKEN)  # learned after start-up
    log = structlog.get_logger("trader.test")
    structlog.contextvars.bind_contextvars(symbol="BTCUSDT")

    log.info(f"order placed with key {API_KEY}", detail=f"secret={API_SECRET} in text")
    log.info(
        "nested values",
        payload={"outer": [f"a {API_SECRET} b", (RUNTIME_TOKEN, {"deep": API_KEY})]},
        api_key=UNREGISTERED,  # sensitive key names are masked even for unknown values
        headers={"X-MBX-APIKEY": UNREGISTERED, "Content-Type": "application/json"},
        settings_repr=repr(settings),
        secret_obj=SecretStr(API_SECRET),
        database=settings.database_url,
    )
    sdk = logging.getLogger("binance_common.utils")
    sdk.warning(
        "GET https://fapi.binance.com/fapi/v1/order?symbol=BTCUSDT&timestamp=1&signature=%s key=%s",
        "9f8e7d6c5b4a39281706f5e4d3c2b1a0",
        API_KEY,
    )
    logging.getLogger("aiohttp.client").debug("body {'apiKey': '%s', 'symbol': 'ETHUSDT'}", UNREGISTERED)
    try:
        try:
            raise ValueError(f"inner cause carries {RUNTIME_TOKEN}")
        except ValueError as cause:
            raise RuntimeError(f"exchange said boom for {API_SECRET}") from cause
    except RuntimeError as exc:
        log.exception("gateway failed", error=exc)
        sdk.error("sdk saw it too", exc_info=True)
    log.info("form body", body="user=trader&q=pgPass%234471&next=1")  # URL-encoded secret
    log.info("after start-up", dsn=f"postgresql://trader:{UNREGISTERED}@db.example/trader")

    written = log_text(tmp_path)
    console = capsys.readouterr().err
    for secret in ALL_SECRETS:
        assert secret not in written, secret
        assert secret not in console, secret
    assert "9f8e7d6c5b4a39281706f5e4d3c2b1a0" not in written + console
    assert "pgPass%234471" not in written + console
    # The surrounding, non-secret text is all there, in both outputs.
    for text in (written, console):
        for expected in (
            "order placed with key ***",
            "signature=***",
            "symbol=BTCUSDT",
            "exchange said boom for ***",
            "inner cause carries ***",
            "Traceback (most recent call last)",
            "sdk saw it too",
            "ETHUSDT",
            "application/json",
            "postgresql://trader:***@db.example/trader",
            "user=trader&q=***&next=1",
        ):
            assert expected in text, expected
    records = [json.loads(line) for line in written.splitlines()]
    first = records[0]
    assert first["event"] == "order placed with key ***"
    assert first["level"] == "info"
    assert first["logger"] == "trader.test"
    assert first["symbol"] == "BTCUSDT"  # contextvars are merged
    assert first["timestamp"].endswith("Z")
    nested = records[1]
    assert nested["api_key"] == "***"
    assert nested["payload"] == {"outer": ["a *** b", ["***", {"deep": "***"}]]}
    assert nested["secret_obj"] == "***"
    sdk_record = next(r for r in records if r["logger"] == "binance_common.utils")
    assert sdk_record["symbol"] == "BTCUSDT"  # third-party lines get the same processors


def test_console_is_off_when_stderr_is_not_a_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("INFO", tmp_path)  # console=None: auto-detect; pytest's stderr is no TTY
    structlog.get_logger("t").info("only in the file")
    assert capsys.readouterr().err == ""
    assert "only in the file" in log_text(tmp_path)


def test_file_only_events_stay_off_the_console(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", tmp_path, console=True)
    structlog.get_logger("t").error("traceback for the file", **{FILE_ONLY: True})
    structlog.get_logger("t").info("for both")
    console = capsys.readouterr().err
    assert "for both" in console
    assert "traceback for the file" not in console
    assert "traceback for the file" in log_text(tmp_path)


def test_level_filters_ours_and_third_party(tmp_path: Path) -> None:
    configure_logging("WARNING", tmp_path, console=False)
    structlog.get_logger("t").info("quiet info")
    logging.getLogger("aiohttp").info("quiet sdk info")
    structlog.get_logger("t").warning("loud warning")
    text = log_text(tmp_path)
    assert "loud warning" in text
    assert "quiet" not in text


def test_configuring_again_replaces_the_handlers(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    configure_logging("INFO", first, console=False)
    configure_logging("INFO", second, console=False)
    structlog.get_logger("t").info("exactly once")
    assert "exactly once" not in log_text(first)
    assert log_text(second).count("exactly once") == 1


def test_rotation_bounds_the_total_size(tmp_path: Path) -> None:
    max_bytes, backups = 2_000, 2
    configure_logging("INFO", tmp_path, console=False, max_bytes=max_bytes, backups=backups)
    log = structlog.get_logger("t")
    for index in range(400):
        log.info("filler line", index=index, text="x" * 40)
    files = sorted(tmp_path.iterdir())
    assert [f.name for f in files] == ["trader.log", "trader.log.1", "trader.log.2"]
    sizes = [f.stat().st_size for f in files]
    assert all(size <= max_bytes for size in sizes), sizes
    assert sum(sizes) <= max_bytes * (backups + 1)
    last = json.loads((tmp_path / "trader.log").read_text().splitlines()[-1])
    assert last["index"] == 399  # the newest line is in the current file


def test_unbounded_rotation_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="must be >= 1"):
        configure_logging("INFO", tmp_path, backups=0)
