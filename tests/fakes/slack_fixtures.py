"""The pytest fixture that runs a FakeSlack for one test; tests/conftest.py imports it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.fakes.slack_server import FakeSlack


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        yield fake
    # Slack would have retried these envelopes and, in time, turned the app off.
    assert fake.violations == [], fake.violations
