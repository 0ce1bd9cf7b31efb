"""Fixtures every test shares: no proxies for loopback fakes, PostgreSQL, a private cache."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.discord_fixtures import fake_discord
from tests.fakes.fixtures import fake_openai, no_proxy
from tests.fakes.slack_fixtures import fake_slack
from tests.postgres import postgres_databases, postgres_server_url, postgres_url

__all__ = [
    "fake_discord",
    "fake_openai",
    "fake_slack",
    "no_proxy",
    "postgres_databases",
    "postgres_server_url",
    "postgres_url",
    "private_cache_home",
]


@pytest.fixture(autouse=True, scope="session")
def private_cache_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keeps the tokenizer cache of test runs out of the developer's home directory."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
        yield
