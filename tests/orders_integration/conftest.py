"""Every order-path scenario also fails when the order manager crashed a task or a handler on the
way (the outcome may look right while an order was left half-handled)."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

import pytest
import structlog

CRASHES = {"order_manager.task_failed", "order_manager.handler_failed", "order_manager.halted"}


@pytest.fixture(autouse=True)
def order_manager_never_crashes() -> Iterator[list[MutableMapping[str, Any]]]:
    """Capture the structured log; fail the test on any crash event of the order manager."""
    with structlog.testing.capture_logs() as events:
        yield events
    crashes = [e for e in events if e.get("event") in CRASHES]
    assert not crashes, f"the order manager crashed: {crashes}"
