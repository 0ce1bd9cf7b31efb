"""Where discord.py reaches Discord (REST base, gateway) and the hook that counts its calls."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from types import SimpleNamespace

import aiohttp
import discord
import yarl

from bots.discord.config import DiscordBotConfig
from core.errors import ConfigError, ConfigIssue
from core.metrics import ApiCalls

DISCORD_API = "https://discord.com/api/v10"
DISCORD_GATEWAY = "wss://gateway.discord.gg/"


def counting_trace(record: ApiCalls) -> aiohttp.TraceConfig:
    """discord.py's own hook into its HTTP session: every REST and CDN response, retries
    after a 429 included, is counted; the gateway's WebSocket upgrade (101) is not."""

    async def on_request_end(
        session: aiohttp.ClientSession,
        context: SimpleNamespace,
        params: aiohttp.TraceRequestEndParams,
    ) -> None:
        if params.response.status != 101:
            record(params.response.status)

    trace = aiohttp.TraceConfig()
    trace.on_request_end.append(on_request_end)
    return trace


@contextlib.contextmanager
def pointed_at(config: DiscordBotConfig) -> Iterator[None]:
    """discord.py keeps its REST base and gateway process-wide, so every Discord bot in
    one process must agree on them; they are put back when the bot stops."""
    api = (config.api_base_url or DISCORD_API).rstrip("/")
    gateway = yarl.URL(config.gateway_url or DISCORD_GATEWAY)
    before = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
    if _running_urls and _running_urls[-1] != (api, gateway):
        message = "every Discord bot in one process must use the same api_base_url and gateway_url"
        raise ConfigError([ConfigIssue(config.name, None, "api_base_url", message)])
    discord.http.Route.BASE = api
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = gateway
    _running_urls.append((api, gateway))
    try:
        yield
    finally:
        _running_urls.pop()
        if not _running_urls:
            discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = before


_running_urls: list[tuple[str, yarl.URL]] = []
