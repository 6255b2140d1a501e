"""Every config test starts from a clean environment: no TRADER_* or 1Password variables."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith(("TRADER_", "OP_SERVICE_ACCOUNT")):
            monkeypatch.delenv(name)
