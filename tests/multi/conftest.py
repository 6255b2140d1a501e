"""Fixtures of the several-daemons tests (real PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from database.engine import Database
from database.migrate import upgrade


@pytest.fixture
def pg(postgres_url: str) -> Iterator[Database]:
    """A migrated Database on a fresh PostgreSQL database."""
    upgrade(postgres_url)
    database = Database(postgres_url)
    try:
        yield database
    finally:
        database.close()
