"""A fake Discord on 127.0.0.1 speaking the real gateway (JSON, zlib-stream) and REST protocols."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from aiohttp import web

from tests.fakes import discord_events as events
from tests.fakes.discord_application import APPLICATION_FLAGS, ApplicationRoutes
from tests.fakes.discord_components import button_with, component_interaction
from tests.fakes.discord_gateway import GatewayServer
from tests.fakes.discord_http import BODY, UPLOADS, Fault, Faults, error, read_body
from tests.fakes.discord_interactions import InteractionRoutes
from tests.fakes.discord_mentions import pings
from tests.fakes.discord_payloads import Payload
from tests.fakes.discord_rest import AttachmentRoutes, ChannelRoutes
from tests.fakes.discord_shards import guild_id_on_shard
from tests.fakes.discord_state import (
    DiscordIdentity,
    Download,
    FakeDiscordMessage,
    FakeInteraction,
    RestCall,
)
from tests.fakes.discord_world import World
from tests.fakes.loopback import Fake, LoopbackServer
from tests.fakes.waiting import deadline, wait_until

__all__ = [
    "DiscordIdentity",
    "Download",
    "FakeDiscord",
    "FakeDiscordMessage",
    "FakeInteraction",
    "RestCall",
    "wait_until",
]

API_PREFIX = "/api/v10"
_WAIT = 30.0  # a guard only: a loaded machine must never reach it
# Discord forgets an interaction that gets no first callback within 3 s of being sent.
RESPONSE_WINDOW = 3.0
# Interaction callbacks and webhook-token routes authenticate by their token, not a header.
_TOKEN_ROUTES = ("/interactions/", "/webhooks/")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class FakeDiscord(Fake):
    """One application with its bot in one guild: REST at `api_url`, gateway at `gateway_url`.

    Every REST request lands in `calls`, attachment GETs in `downloads`. Messages the bot
    sends are kept per channel and echoed back as MESSAGE_CREATE, as Discord does. A first
    interaction callback later than `response_window` s after its dispatch gets 404 10062.
    """

    def __init__(
        self,
        identity: DiscordIdentity | None = None,
        *,
        heartbeat_interval_ms: int = 41_250,
        response_window: float | None = RESPONSE_WINDOW,
        port: int = 0,
        shards: int = 1,
        sharding_required: bool = False,
        max_concurrency: int = 1,
    ) -> None:
        self.identity = identity or DiscordIdentity()
        self.world = World(self.identity)
        self.response_window = response_window
        self.max_concurrency = max_concurrency  # IDENTIFYs per 5 s, per GET /gateway/bot
        self.gateway = GatewayServer(
            self.identity.token, self._ready, heartbeat_interval_ms,
            shard_count=shards, sharding_required=sharding_required,
        )  # fmt: skip
        self.calls: list[RestCall] = []
        self.downloads: list[Download] = []
        self._faults = Faults()
        self._server = LoopbackServer()
        self._port: int | None = None
        self._wanted_port = port  # fixed, so a stopped fake can come back where it was

    @property
    def token(self) -> str:
        return self.identity.token

    @property
    def bot_user_id(self) -> str:
        return self.identity.bot_user_id

    @property
    def application_id(self) -> str:
        return self.identity.application_id

    @property
    def guild_id(self) -> str:
        return self.identity.guild_id

    @property
    def channel_id(self) -> str:
        return self.identity.channel_id

    @property
    def user_id(self) -> str:
        return self.identity.user_id

    @property
    def base_url(self) -> str:
        if self._port is None:
            raise RuntimeError("FakeDiscord is not started")
        return f"http://127.0.0.1:{self._port}/"

    @property
    def api_url(self) -> str:
        """What discord.http.Route.BASE must be: no trailing slash, paths start with one."""
        return f"{self.base_url.rstrip('/')}{API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self._port}/gateway"

    @property
    def resume_gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self._port}/gateway/resume"

    @property
    def identify_count(self) -> int:
        return self.gateway.identify_count

    @property
    def resume_count(self) -> int:
        return self.gateway.resume_count

    async def start(self) -> None:
        api = web.Application()
        channel_routes = ChannelRoutes(self.world, self._emit, lambda: self.base_url)
        interaction_routes = InteractionRoutes(
            self.world, lambda: self.base_url, lambda: self.response_window
        )
        limits = (self.gateway.shard_count, self.max_concurrency)
        api.add_routes(ApplicationRoutes(self.world, lambda: self.gateway_url, limits).routes())
        api.add_routes(channel_routes.routes())
        api.add_routes(interaction_routes.routes())
        api.router.add_route("*", "/{tail:.*}", self._not_found)
        app = web.Application(middlewares=[self._middleware])
        app.add_subapp(API_PREFIX, api)
        app.router.add_get("/gateway", self.gateway.handle)
        app.router.add_get("/gateway/resume", self.gateway.handle)
        app.add_routes(AttachmentRoutes(self.world, self.downloads).routes())
        self._port = await self._server.serve(app, self._wanted_port)

    async def stop(self) -> None:
        await self.gateway.close_all()
        await self._server.close()
        self._port = None

    # Seeding and inspecting.
    def add_user(self, user_id: str, username: str, *, bot: bool = False) -> Payload:
        """A user who is a member of every guild; returns the user object."""
        return self.world.add_user(user_id, username, bot=bot)

    def add_channel(self, channel_id: str, name: str, guild_id: str | None = None) -> Payload:
        return self.world.add_text_channel(channel_id, guild_id or self.guild_id, name)

    def add_thread(self, parent_id: str, name: str, owner_id: str | None = None) -> Payload:
        return self.world.add_thread(parent_id, owner_id or self.user_id, name)

    def add_dm_channel(self, user_id: str) -> Payload:
        return self.world.add_dm_channel(user_id)

    def add_attachment(
        self, name: str, content_type: str, data: bytes, channel_id: str | None = None
    ) -> Payload:
        """An attachment object for message_create(attachments=...), served by the fake."""
        channel = channel_id or self.channel_id
        return self.world.attachment(channel, name, content_type, data, self.base_url)

    def messages(self, channel_id: str) -> list[FakeDiscordMessage]:
        return list(self.world.messages.get(channel_id, []))

    def posted(self, channel_id: str) -> list[FakeDiscordMessage]:
        return [m for m in self.messages(channel_id) if m.author_id == self.bot_user_id]

    def pinged(self, message: FakeDiscordMessage) -> set[str]:
        """Who Discord would notify for the message as it stands (after its edits)."""
        reference = message.message_reference or {}
        replied = self.world.find_anywhere(str(reference.get("message_id", "")))
        return pings(message, replied.author_id if replied is not None else None)

    def interaction(self, interaction_id: str) -> FakeInteraction:
        return self.world.interactions[interaction_id]

    def commands(self, guild_id: str | None = None) -> list[Payload]:
        """Commands as last bulk-overwritten, globally or in one guild."""
        return list(self.world.commands.get(guild_id or "global", {}).values())

    def channel(self, channel_id: str) -> Payload:
        return self.world.channels[channel_id]

    def calls_to(self, method: str, path_prefix: str) -> list[RestCall]:
        return [c for c in self.calls if c.method == method and c.path.startswith(path_prefix)]

    def fail_next(
        self,
        method: str,
        path_prefix: str,
        *,
        status: int,
        retry_after: float | None = None,
        via: bool = True,
        global_: bool = False,
        code: int | None = None,
        message: str | None = None,
        times: int = 1,
        drop: bool = False,
        after: bool = False,
    ) -> None:
        """The next `times` requests (method or "*", path relative to /api/v10) fail.

        429 carries Retry-After, X-RateLimit-* and (via=True) `Via: 1.1 google`; 403 defaults
        to "Missing Permissions" 50013; 5xx to Discord's plain error bodies. drop=True closes
        the connection under the request, with no answer at all (status is then unused).
        after=True carries the request out first; only its answer is the fault.
        """
        fault = Fault(
            method, path_prefix, status, retry_after, via, global_, code, message, times, drop,
            after,
        )  # fmt: skip
        self._faults.add(fault)

    def reset_faults(self) -> None:
        """Drops every fault still queued ("Discord is back")."""
        self._faults = Faults()

    # Gateway.
    async def wait_ready(self, shard: int = 0) -> None:
        """Returns once a client has IDENTIFYed (READY + GUILD_CREATEs sent) or RESUMEd."""
        async with deadline(_WAIT, f"no gateway client became ready on shard {shard}"):
            await self.gateway.wait_ready(shard)

    async def dispatch(self, event: str, data: Any) -> int:
        """Sends an op 0 dispatch with its session's next sequence number and returns it:
        a server's event goes to the server's shard, a DM's to shard 0 (0 returned: no
        session runs that shard)."""
        async with deadline(_WAIT, "no gateway session to dispatch to"):
            await self.gateway.wait_session()
        shard = self.gateway.shard_for(event, data)
        if event in ("MESSAGE_CREATE", "MESSAGE_UPDATE") and isinstance(data, dict):
            data = events.hide_content(self.world, data, self.gateway.intents_of(shard))
        if event == "INTERACTION_CREATE" and isinstance(data, dict):
            interaction = self.world.interactions.get(str(data.get("id")))
            if interaction is not None:
                interaction.sent_at = time.monotonic()
        return await self.gateway.dispatch(event, data, shard)

    async def request_reconnect(self, shard: int = 0) -> None:
        async with deadline(_WAIT, "no gateway client to reconnect"):
            await self.gateway.request_reconnect(shard)

    async def drop_connection(self, shard: int = 0) -> None:
        async with deadline(_WAIT, "no gateway client to drop"):
            await self.gateway.drop_connection(shard)

    async def invalidate_session(self, resumable: bool, shard: int = 0) -> None:
        async with deadline(_WAIT, "no gateway client to invalidate"):
            await self.gateway.invalidate_session(resumable, shard)

    def add_guild_on_shard(self, shard: int, nth: int = 0) -> tuple[str, str]:
        """A server (with a #general channel) that Discord puts on `shard` of the fake's
        shard count; returns (guild id, channel id)."""
        guild_id = guild_id_on_shard(shard, self.gateway.shard_count, nth)
        self.world.add_guild(guild_id, f"shard{shard}-{nth}", self.user_id)
        channel_id = str(int(guild_id) + 1)
        self.world.add_text_channel(channel_id, guild_id, "general")
        return guild_id, channel_id

    def message_create(
        self,
        channel_id: str,
        author: str,
        content: str,
        *,
        message_id: str | None = None,
        mentions: Sequence[str] = (),
        referenced_message: str | None = None,
        attachments: Sequence[Payload] = (),
    ) -> Payload:
        """A MESSAGE_CREATE body from user id `author`; the message is stored first."""
        return events.message_create(
            self.world, channel_id, author, content, message_id=message_id, mentions=mentions,
            referenced_message=referenced_message, attachments=attachments,
        )  # fmt: skip

    def interaction_create(
        self,
        name: str,
        *,
        options: Mapping[str, Any] | None = None,
        user_id: str | None = None,
        channel_id: str | None = None,
        interaction_id: str | None = None,
        user_install_only: bool = False,
        external_apps_allowed: bool = True,
    ) -> Payload:
        """An INTERACTION_CREATE body for slash command `name` (guild or DM by the channel);
        `user_install_only`: used through a user's install, as where the bot is not."""
        return events.interaction_create(
            self.world, name, options=options, user_id=user_id or self.user_id,
            channel_id=channel_id or self.channel_id, interaction_id=interaction_id,
            user_install_only=user_install_only, external_apps_allowed=external_apps_allowed,
        )  # fmt: skip

    async def click_button(self, message: FakeDiscordMessage, user_id: str, emoji: str) -> Payload:
        """`user_id` clicks the button showing `emoji` on `message`: a component interaction
        (type 3) dispatched, held to the same 3 s answer window as a slash command."""
        custom_id = str(button_with(message, emoji)["custom_id"])
        payload = component_interaction(self.world, message, user_id, custom_id)
        await self.dispatch("INTERACTION_CREATE", payload)
        return payload

    def _ready(self, session_id: str, intents: int) -> tuple[Payload, list[Payload]]:
        ready = events.ready_event(
            self.world, session_id, self.resume_gateway_url, APPLICATION_FLAGS
        )
        return ready, events.guild_create_events(self.world)

    async def _emit(self, event: str, data: Any) -> None:
        """Echoes REST side effects on the gateway; kept for replay if the client is away."""
        if self.gateway.has_sessions:
            await self.gateway.dispatch(event, data)

    # HTTP.
    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith(f"{API_PREFIX}/"):
            return await handler(request)
        path = request.path.removeprefix(API_PREFIX)
        body, uploads = await read_body(request)
        request[BODY], request[UPLOADS] = body, uploads
        headers = dict(request.headers)
        query = dict(request.query)
        self.calls.append(RestCall(request.method, path, body, headers, query, time.monotonic()))
        fault = self._faults.take(request.method, path)
        if fault is not None and not fault.after:
            return fault.response(request)
        if (
            not path.startswith(_TOKEN_ROUTES)
            and headers.get("Authorization") != f"Bot {self.token}"
        ):
            return error(401)
        response = await handler(request)
        return fault.response(request) if fault is not None else response

    async def _not_found(self, request: web.Request) -> web.Response:
        return error(404)
