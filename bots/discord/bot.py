"""One Discord bot: discord.py's client with Parley's slash commands, wired to the engine."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any, Self

import aiohttp
import discord
import yarl
from discord import app_commands
from discord.state import ConnectionState

from bots.connect import keep_connecting
from bots.discord.command_sync import sync_if_changed
from bots.discord.commands import install
from bots.discord.config import DiscordBotConfig
from bots.discord.feedback import answer_click, is_feedback
from bots.discord.notes import post_note
from bots.discord.ready import ready_when_servers_arrived
from bots.discord.reply import NO_PINGS
from bots.discord.router import DiscordEventRouter
from bots.discord.slash import command_failed
from bots.tasks import Shutdown, TurnTasks
from bots.throttle import ChannelThrottle
from core.config import BotConfig
from core.errors import ConfigError, ConfigIssue, ParleyError
from core.metrics import ApiCalls, ignore_api_calls
from core.types import ConversationKey, Conversations

log = logging.getLogger(__name__)

DISCORD_API = "https://discord.com/api/v10"
DISCORD_GATEWAY = "wss://gateway.discord.gg/"
GUILD_READY_TIMEOUT = 2.0  # discord.py's default wait for a server READY listed that has not come
# What reaching Discord at start-up raises while the network or Discord is down; once
# connected, discord.py reconnects by itself. LoginFailure and a gateway close for a bad
# token or intents (ConnectionClosed 4004, 4014) are not here: retrying cannot fix them.
GATEWAY_AUTHENTICATION_FAILED = 4004
UNREACHABLE: tuple[type[BaseException], ...] = (
    OSError,
    aiohttp.ClientError,
    discord.GatewayNotFound,
    discord.DiscordServerError,
)


class DiscordBot:
    """Serves one Discord bot until cancelled; `parley run` runs one per bot entry."""

    def __init__(
        self,
        config: BotConfig,
        engine: Conversations,
        *,
        api_calls: ApiCalls = ignore_api_calls,
        shutdown: Shutdown | None = None,
    ) -> None:
        if not isinstance(config, DiscordBotConfig):
            raise TypeError(f"{config.name} is not a Discord bot")
        self._name = config.name
        self._engine = engine
        self._api_calls = api_calls
        self._shutdown = shutdown
        self.client: ParleyDiscordClient | None = None  # for tests and health checks

    @property
    def connected(self) -> bool:
        """The gateway session is ready and its WebSocket is open now."""
        client = self.client
        return (
            client is not None
            and not client.is_closed()
            and client.is_ready()
            and bool(client.ws.open)
        )

    async def notify(self, key: ConversationKey, text: str) -> None:
        client = self.client
        if client is None or not self.connected:
            raise ParleyError(f"discord bot {self._name} is not connected")
        await post_note(client, key, text)

    def _config(self) -> DiscordBotConfig:
        # Looked up per event so a reload's access lists apply at once.
        config = self._engine.bot(self._name)
        assert isinstance(config, DiscordBotConfig)
        return config

    async def run(self) -> None:
        await keep_connecting(f"{self._name} (discord)", self._serve, UNREACHABLE)

    async def _serve(self) -> None:
        config = self._config()
        with pointed_at(config):
            self.client = ParleyDiscordClient(
                self._config, self._engine, self._api_calls, self._shutdown
            )
            try:
                async with self.client:
                    try:
                        await self.client.start(config.token.reveal())
                    finally:
                        # Before the client closes: running replies still post their last words.
                        await self.client.talk.tasks.drain()
            except discord.PrivilegedIntentsRequired as refused:
                raise ParleyError(
                    f"discord bot {self._name}: Discord refused the Message Content intent, which "
                    "Parley needs to read follow-ups in its threads: turn it on under Bot → "
                    "Privileged Gateway Intents in the Developer Portal"
                ) from refused
            except discord.LoginFailure as refused:
                raise self._token_rejected(config) from refused
            except discord.ConnectionClosed as closed:
                # Only the close codes discord.py will not reconnect after reach here.
                if closed.code == GATEWAY_AUTHENTICATION_FAILED:
                    raise self._token_rejected(config) from closed
                raise ParleyError(
                    f"discord bot {self._name}: Discord closed the gateway for good: "
                    f"{closed.code} {closed.reason}"
                ) from closed

    def _token_rejected(self, config: DiscordBotConfig) -> ParleyError:
        return ParleyError(
            f"discord bot {self._name}: Discord rejected the token: set "
            f"{config.token.variable} to the bot's token (Bot → Reset Token)"
        )


class ParleyDiscordClient(discord.Client):
    """discord.py's idiom: async set-up in setup_hook, events as methods; slash commands on
    a CommandTree (Parley has no prefix commands, so no `commands.Bot`)."""

    def __init__(
        self,
        config: Callable[[], DiscordBotConfig],
        engine: Conversations,
        api_calls: ApiCalls = ignore_api_calls,
        shutdown: Shutdown | None = None,
    ) -> None:
        intents = discord.Intents.default()
        intents.message_content = True  # follow-ups in threads carry no mention
        super().__init__(
            intents=intents,
            guild_ready_timeout=GUILD_READY_TIMEOUT,
            # discord.py keeps the last 1,000 messages by default, each a full Message, and
            # scans them for every edit, reaction and delete: Parley reads a message once,
            # as it arrives, and its own streamed edits come back as MESSAGE_UPDATEs.
            max_messages=None,
            http_trace=counting_trace(api_calls),
            allowed_mentions=NO_PINGS,
        )
        self.tree: app_commands.CommandTree[ParleyDiscordClient] = app_commands.CommandTree(self)
        self.tree.error(command_failed)
        self._bot_config = config
        self.talk = DiscordEventRouter(
            bot=self._current,
            engine=engine,
            client=self,
            throttle=ChannelThrottle(),
            tasks=TurnTasks(shutdown),
        )

    def _current(self) -> DiscordBotConfig:
        return self._bot_config()

    def _get_state(self, **options: Any) -> ConnectionState[Self]:
        # discord.py's gateway loop calls these parsers bare: one raising on a malformed
        # payload ends `connect()` and the bot with it. This is the one place every gateway
        # event passes (the socket shares this dict) and the hook discord.py itself
        # overrides for sharding; on_error sees only events already parsed.
        # READY is left bare: a session that cannot start is not an event to skip, and
        # a bot waiting for a READY that never parsed would look alive and answer nothing.
        state = super()._get_state(**options)
        for event, parse in state.parsers.items():
            if event != "READY":
                state.parsers[event] = skipping_malformed(event, parse)
        ready_when_servers_arrived(state, GUILD_READY_TIMEOUT)
        return state

    async def setup_hook(self) -> None:
        install(self.tree, self.talk)
        await sync_if_changed(self.tree, self._current(), self.talk.engine)

    async def on_ready(self) -> None:
        # Also after a session had to start afresh (a resumed one is not READY again).
        log.info(
            "discord bot %s connected as %s in %d servers",
            self._current().name,
            self.user,
            len(self.guilds),
        )

    async def on_message(self, message: discord.Message) -> None:
        self.talk.on_message(message)

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        # Slash commands go to the tree; a click on a reply's feedback buttons comes here.
        if is_feedback(interaction):
            await answer_click(interaction, self.talk)

    async def on_error(self, event_method: str, /, *args: object, **kwargs: object) -> None:
        # discord.py's default prints a traceback per failure; one line an admin can act on.
        error = sys.exc_info()[1]
        log.error("discord: %s failed: %s: %s", event_method, type(error).__name__, error)


def skipping_malformed(event: str, parse: Callable[[Any], None]) -> Callable[[Any], None]:
    """A gateway parser that logs a payload it cannot parse in one line and skips it."""

    def parse_or_skip(data: Any) -> None:
        try:
            parse(data)
        except Exception as error:  # any parser bug: skip this event only
            # Capped: a parser's message may quote a field of the payload.
            reason = f"{type(error).__name__}: {error}"[:200]
            log.warning("discord: skipped a malformed %s event: %s", event, reason)

    return parse_or_skip


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
