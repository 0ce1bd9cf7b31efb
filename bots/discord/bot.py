"""One Discord bot: discord.py's client with Parley's slash commands, wired to the engine."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Callable
from typing import Any, Self

import aiohttp
import discord
from discord import app_commands
from discord.state import ConnectionState

from bots.connect import keep_connecting
from bots.discord.approvals import answer_approval, is_approval
from bots.discord.command_sync import sync_on_one_replica
from bots.discord.commands import install
from bots.discord.config import DiscordBotConfig
from bots.discord.endpoints import counting_trace, pointed_at
from bots.discord.feedback import answer_click, is_feedback
from bots.discord.notes import post_note
from bots.discord.ready import ready_when_servers_arrived
from bots.discord.reply import NO_PINGS
from bots.discord.router import DiscordEventRouter
from bots.discord.shards import IdentifyPacing, ShardPlan, claim_shards
from bots.discord.slash import command_failed
from bots.tasks import Shutdown, TurnTasks
from bots.throttle import ChannelThrottle
from core.config import BotConfig
from core.errors import ParleyError
from core.metrics import ApiCalls, ignore_api_calls
from core.types import ConversationKey, Conversations

log = logging.getLogger(__name__)

GUILD_READY_TIMEOUT = 2.0  # discord.py's default wait for a server READY listed that has not come
# What reaching Discord at start-up raises while the network or Discord is down; once
# connected, discord.py reconnects by itself. LoginFailure and a gateway close for a bad
# token or intents (ConnectionClosed 4004, 4014) are not here: retrying cannot fix them.
GATEWAY_AUTHENTICATION_FAILED = 4004
# What to do about the gateway's sharding close codes.
SHARDING_HINTS = {
    4010: "shards.count or shards.ids do not fit the other replicas' (every replica needs "
    "the same count, and ids below it)",
    4011: "the bot is in too many servers for one session: set shards.count (Discord "
    "recommends one shard per 1,000 servers)",
}
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
        """The gateway sessions (one per shard this replica runs) are ready and their
        WebSockets are open now."""
        client = self.client
        return (
            client is not None
            and not client.is_closed()
            and client.is_ready()
            and client.gateway_open()
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
        shards = self._config().shards
        plan = await claim_shards(self._name, shards, self._engine.coordination)
        if plan is None:
            return
        await keep_connecting(f"{self._name} (discord)", lambda: self._serve(plan), UNREACHABLE)

    def _client(self, plan: ShardPlan) -> ParleyDiscordClient:
        if plan.sharded:
            return ShardedParleyDiscordClient(
                self._config, self._engine, plan, self._api_calls, self._shutdown
            )
        return ParleyDiscordClient(self._config, self._engine, self._api_calls, self._shutdown)

    async def _serve(self, plan: ShardPlan) -> None:
        config = self._config()
        with pointed_at(config):
            self.client = self._client(plan)
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
                hint = f": {SHARDING_HINTS[closed.code]}" if closed.code in SHARDING_HINTS else ""
                raise ParleyError(
                    f"discord bot {self._name}: Discord closed the gateway for good: "
                    f"{closed.code} {closed.reason}{hint}"
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
        **sharding: Any,  # shard_ids and shard_count, from the sharded subclass only
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
            **sharding,
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

    def gateway_open(self) -> bool:
        """The gateway WebSocket (each shard's, when sharded) is open now."""
        return bool(self.ws.open)

    async def setup_hook(self) -> None:
        install(self.tree, self.talk)
        await sync_on_one_replica(self.tree, self._current(), self.talk.engine)

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
        # Slash commands go to the tree; clicks on Parley's buttons come here.
        if is_feedback(interaction):
            await answer_click(interaction, self.talk)
        elif is_approval(interaction):
            await answer_approval(interaction, self.talk)

    async def on_error(self, event_method: str, /, *args: object, **kwargs: object) -> None:
        # discord.py's default prints a traceback per failure; one line an admin can act on.
        error = sys.exc_info()[1]
        log.error("discord: %s failed: %s: %s", event_method, type(error).__name__, error)


# misc: ParleyDiscordClient._get_state is typed for a plain ConnectionState; through
# super() it returns the AutoShardedConnectionState discord.py builds here, parsers wrapped.
class ShardedParleyDiscordClient(ParleyDiscordClient, discord.AutoShardedClient):  # type: ignore[misc]
    """The same client over one gateway session per shard this replica runs: discord.py
    routes every shard's events into the one set of handlers above."""

    def __init__(
        self,
        config: Callable[[], DiscordBotConfig],
        engine: Conversations,
        plan: ShardPlan,
        api_calls: ApiCalls = ignore_api_calls,
        shutdown: Shutdown | None = None,
    ) -> None:
        super().__init__(
            config, engine, api_calls, shutdown, shard_ids=list(plan.ids), shard_count=plan.count
        )
        self._pacing = IdentifyPacing()

    def gateway_open(self) -> bool:
        shards = self.shards
        return len(shards) == len(self.shard_ids or ()) and not any(
            shard.is_closed() for shard in shards.values()
        )

    async def setup_hook(self) -> None:
        # Before the first IDENTIFY: how many shards may identify at once.
        with contextlib.suppress(discord.HTTPException, discord.GatewayNotFound):
            limits = await self.fetch_session_start_limits()
            self._pacing.max_concurrency = limits.max_concurrency
        await super().setup_hook()

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        await self._pacing.wait_turn(shard_id or 0)

    async def on_shard_ready(self, shard_id: int) -> None:
        log.debug("discord bot %s: shard %d ready", self._current().name, shard_id)


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
