"""Points discord.py's REST base and gateway at a FakeDiscord for the length of a with-block."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route

from tests.fakes.discord_server import FakeDiscord


@contextlib.contextmanager
def point_discord_at(fake: FakeDiscord) -> Iterator[FakeDiscord]:
    """Patches Route.BASE (REST and interaction webhooks, which build Routes too) and
    DiscordWebSocket.DEFAULT_GATEWAY (first connect and re-IDENTIFY after op 9); RESUMEs go
    to the resume_gateway_url READY names, which is the fake's own. Restores both on exit.

    discord.py's aiohttp session is built with trust_env=False, so proxy variables never
    apply to it; only an explicit Client(proxy=...) would.
    """
    old_base, old_gateway = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    Route.BASE = fake.api_url
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
    try:
        yield fake
    finally:
        Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = old_base, old_gateway
