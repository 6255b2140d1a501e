"""0003_alerts keeps what an older database stored: level becomes severity, delivered becomes status."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text

from database.engine import make_engine
from database.migrate import alembic_config, upgrade


def test_stored_alerts_keep_their_meaning_through_the_upgrade_and_back(any_db_url: str) -> None:
    config = alembic_config(any_db_url)
    command.upgrade(config, "0002_reconciliation")
    engine = make_engine(any_db_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO alerts (time, level, kind, message, delivered, attempts) VALUES "
                    "(1000, 'critical', 'kill_switch', 'halted', :yes, 1), "
                    "(2000, 'info', 'fill', 'BUY', :no, 0)"
                ),
                {"yes": True, "no": False},
            )
        upgrade(any_db_url)
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT time, last_time, severity, kind, key, symbol, message, occurrences, status, "
                    "attempts, error FROM alerts ORDER BY time"
                )
            ).all()
        assert [tuple(r) for r in rows] == [
            (1000, 1000, "critical", "kill_switch", "kill_switch", None, "halted", 1, "delivered", 1, ""),
            (2000, 2000, "info", "fill", "fill", None, "BUY", 1, "pending", 0, ""),
        ]
        command.downgrade(config, "0002_reconciliation")
        with engine.connect() as connection:
            back = connection.execute(text("SELECT level, delivered FROM alerts ORDER BY time")).all()
        levels = [(level, bool(delivered)) for level, delivered in back]
        assert levels == [("critical", True), ("info", False)]
    finally:
        engine.dispose()
