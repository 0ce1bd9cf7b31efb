"""REST routes of a fake Discord for who the bot is and its application commands."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from tests.fakes.discord_http import BODY, error, json_response
from tests.fakes.discord_payloads import Payload, application_payload
from tests.fakes.discord_world import World

# GATEWAY_MESSAGE_CONTENT_LIMITED: an unverified bot with the message content intent enabled.
APPLICATION_FLAGS = 1 << 19


# Where a command may be installed (0 guild, 1 user) and used (0 guild, 1 the bot's DM,
# 2 private channels); a guild command's are stored and mean nothing (only a global command
# can be installed by a user).
_INSTALL_TYPES = frozenset({0, 1})
_CONTEXTS = frozenset({0, 1, 2})


def _installable(command: object) -> bool:
    if not isinstance(command, dict):
        return False
    installs = command.get("integration_types") or [0]
    contexts = command.get("contexts") or [0, 1, 2]
    return set(installs) <= _INSTALL_TYPES and set(contexts) <= _CONTEXTS


class ApplicationRoutes:
    """GET /users/@me and /oauth2/applications/@me (discord.py's login), gateway, commands."""

    def __init__(
        self, world: World, gateway_url: Callable[[], str], shards: tuple[int, int] = (1, 1)
    ) -> None:
        self.world = world
        self.gateway_url = gateway_url
        self.shard_count, self.max_concurrency = shards

    def routes(self) -> list[web.RouteDef]:
        global_commands = "/applications/{app}/commands"
        guild_commands = "/applications/{app}/guilds/{guild}/commands"
        return [
            web.get("/users/@me", self.me),
            web.get("/users/@me/guilds", self.my_guilds),
            web.get("/oauth2/applications/@me", self.application),
            web.get("/applications/@me", self.application),
            web.get("/gateway", self.gateway),
            web.get("/gateway/bot", self.gateway_bot),
            web.get(global_commands, self.get_commands),
            web.put(global_commands, self.put_commands),
            web.get(guild_commands, self.get_commands),
            web.put(guild_commands, self.put_commands),
        ]

    async def me(self, request: web.Request) -> web.Response:
        user = dict(self.world.users[self.world.identity.bot_user_id])
        user.update(verified=True, mfa_enabled=False, locale="en-US", email=None)
        return json_response(user)

    async def my_guilds(self, request: web.Request) -> web.Response:
        """The bot's servers as partial guilds, by id after `after`, at most `limit`."""
        after = int(request.query.get("after") or 0)
        limit = min(int(request.query.get("limit") or 200), 200)
        guilds = sorted(self.world.guilds.values(), key=lambda guild: int(guild.id))
        partial: list[Payload] = [
            {"id": g.id, "name": g.name, "icon": None, "owner": False, "permissions": "0"}
            for g in guilds
            if int(g.id) > after
        ]
        return json_response([{**guild, "features": []} for guild in partial[:limit]])

    async def application(self, request: web.Request) -> web.Response:
        identity = self.world.identity
        bot = self.world.users[identity.bot_user_id]
        owner = self.world.users[identity.user_id]
        payload = application_payload(identity.application_id, bot, owner, APPLICATION_FLAGS)
        return json_response(payload)

    async def gateway(self, request: web.Request) -> web.Response:
        return json_response({"url": self.gateway_url()})

    async def gateway_bot(self, request: web.Request) -> web.Response:
        limit = {
            "total": 1000,
            "remaining": 999,
            "reset_after": 14_400_000,
            "max_concurrency": self.max_concurrency,
        }
        shards = self.shard_count
        return json_response(
            {"url": self.gateway_url(), "shards": shards, "session_start_limit": limit}
        )

    def _scope(self, request: web.Request) -> str | web.Response:
        if request.match_info["app"] != self.world.identity.application_id:
            return error(403, "Missing Access", 50001)
        guild_id = request.match_info.get("guild")
        if guild_id is not None and guild_id not in self.world.guilds:
            return error(403, "Missing Access", 50001)
        return guild_id or "global"

    async def get_commands(self, request: web.Request) -> web.Response:
        scope = self._scope(request)
        if isinstance(scope, web.Response):
            return scope
        return json_response(list(self.world.commands.get(scope, {}).values()))

    async def put_commands(self, request: web.Request) -> web.Response:
        """Bulk overwrite: the stored set becomes exactly the body; names keep their ids."""
        scope = self._scope(request)
        if isinstance(scope, web.Response):
            return scope
        body = request.get(BODY)
        if not isinstance(body, list) or not all(_installable(c) for c in body):
            return error(400, "Invalid Form Body", 50035)
        return json_response(self.world.overwrite_commands(scope, body))
