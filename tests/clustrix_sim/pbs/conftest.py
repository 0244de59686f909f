"""PBS front-end tests: format goldens render times in UTC."""

from __future__ import annotations

import time

import pytest


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.delenv("TZ")
    time.tzset()
