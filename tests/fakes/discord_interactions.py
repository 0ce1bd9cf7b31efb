"""REST routes of a fake Discord for interactions: callbacks, @original and followup webhooks."""

from __future__ import annotations

import time
from collections.abc import Callable

from aiohttp import web

from tests.fakes.discord_http import BODY, error, json_response
from tests.fakes.discord_payloads import Payload
from tests.fakes.discord_rest import apply_edit, body_of, compose
from tests.fakes.discord_state import FakeDiscordMessage, FakeInteraction
from tests.fakes.discord_world import World

# Callback types that create the @original message (4 reply, 5 deferred "thinking").
_CREATES_ORIGINAL = (4, 5)
_KNOWN_CALLBACKS = (1, 4, 5, 6, 7, 8, 9, 10, 12)
_EPHEMERAL = 64
# Follow-ups per interaction of an app used through a user's install (since 2024-06-27).
_MOST_FOLLOWUPS = 5
_LOADING = 128


class InteractionRoutes:
    """Interaction tokens stand in for auth here: these routes take no Authorization header."""

    def __init__(
        self,
        world: World,
        base_url: Callable[[], str],
        response_window: Callable[[], float | None],
    ) -> None:
        self.world = world
        self.base_url = base_url
        self.response_window = response_window

    def routes(self) -> list[web.RouteDef]:
        original = "/webhooks/{app}/{token}/messages/{message}"
        return [
            web.post("/interactions/{interaction}/{token}/callback", self.callback),
            web.post("/webhooks/{app}/{token}", self.followup),
            web.get(original, self.get_message),
            web.patch(original, self.edit_message),
            web.delete(original, self.delete_message),
        ]

    def _by_token(self, request: web.Request) -> FakeInteraction | None:
        if request.match_info["app"] != self.world.identity.application_id:
            return None
        token = request.match_info["token"]
        return next((i for i in self.world.interactions.values() if i.token == token), None)

    async def callback(self, request: web.Request) -> web.Response:
        interaction = self.world.interactions.get(request.match_info["interaction"])
        if interaction is None or interaction.token != request.match_info["token"]:
            return error(404, "Unknown interaction", 10062)
        if interaction.acknowledged:
            return error(400, "Interaction has already been acknowledged.", 40060)
        if self._expired(interaction):
            return error(404, "Unknown interaction", 10062)
        body = body_of(request)
        kind = int(body.get("type", 0))
        if kind not in _KNOWN_CALLBACKS:
            return error(400, "Invalid Form Body", 50035)
        data = body.get("data") if isinstance(body.get("data"), dict) else {}
        assert isinstance(data, dict)
        interaction.callback_type, interaction.callbacks = kind, interaction.callbacks + 1
        if kind in _CREATES_ORIGINAL:
            message = self._original(interaction, request, kind, data)
            if isinstance(message, web.Response):
                interaction.callback_type = None
                return message
            interaction.original = self.world.store(message)
        if request.query.get("with_response") not in ("1", "true"):
            return web.Response(status=204)
        return json_response(self._callback_response(interaction, kind))

    def _expired(self, interaction: FakeInteraction) -> bool:
        """Discord drops an interaction whose first answer misses the window after dispatch."""
        window = self.response_window()
        if window is None or interaction.sent_at is None:
            return False
        return time.monotonic() - interaction.sent_at > window

    def _original(
        self, interaction: FakeInteraction, request: web.Request, kind: int, data: Payload
    ) -> FakeDiscordMessage | web.Response:
        if kind == 5:
            flags = _LOADING | (int(data.get("flags") or 0) & _EPHEMERAL) | _forced(interaction)
            return FakeDiscordMessage(
                id=self.world.ids.next(),
                channel_id=interaction.channel_id,
                author_id=self.world.identity.bot_user_id,
                content="",
                guild_id=interaction.guild_id,
                flags=flags,
                interaction_id=interaction.id,
            )
        request[BODY] = data
        message = compose(
            self.world, interaction.channel_id, self.world.identity.bot_user_id, request,
            self.base_url(),
        )  # fmt: skip
        if isinstance(message, FakeDiscordMessage):
            message.interaction_id = interaction.id
        return message

    def _callback_response(self, interaction: FakeInteraction, kind: int) -> Payload:
        original = interaction.original
        response: Payload = {
            "interaction": {
                "id": interaction.id,
                "type": 2,
                "response_message_loading": kind == 5,
                "response_message_ephemeral": bool(original and original.ephemeral),
            }
        }
        if original is not None:
            response["interaction"]["response_message_id"] = original.id
            response["resource"] = {"type": kind, "message": self.world.render(original)}
        return response

    async def followup(self, request: web.Request) -> web.Response:
        interaction = self._by_token(request)
        if interaction is None:
            return error(404, "Unknown Webhook", 10015)
        if not interaction.acknowledged:
            return error(400, "Interaction has not been acknowledged.", 40063)
        if interaction.user_install_only and len(interaction.followups) >= _MOST_FOLLOWUPS:
            return error(400, "Maximum number of follow up messages reached", 40094)
        bot_id = self.world.identity.bot_user_id
        message = compose(self.world, interaction.channel_id, bot_id, request, self.base_url())
        if isinstance(message, web.Response):
            return message
        message.flags |= _forced(interaction)
        message.interaction_id = interaction.id
        interaction.followups.append(self.world.store(message))
        if request.query.get("wait") in ("0", "false"):
            return web.Response(status=204)
        return json_response(self.world.render(message))

    def _webhook_message(
        self, request: web.Request
    ) -> tuple[FakeInteraction, FakeDiscordMessage] | web.Response:
        interaction = self._by_token(request)
        if interaction is None:
            return error(404, "Unknown Webhook", 10015)
        wanted = request.match_info["message"]
        if wanted == "@original":
            message = interaction.original
        else:
            message = next((m for m in interaction.followups if m.id == wanted), None)
        if message is None:
            return error(404, "Unknown Message", 10008)
        return interaction, message

    async def get_message(self, request: web.Request) -> web.Response:
        found = self._webhook_message(request)
        if isinstance(found, web.Response):
            return found
        return json_response(self.world.render(found[1]))

    async def edit_message(self, request: web.Request) -> web.Response:
        found = self._webhook_message(request)
        if isinstance(found, web.Response):
            return found
        _, message = found
        refusal = apply_edit(self.world, message, body_of(request))
        if refusal is not None:
            return refusal
        message.flags &= ~_LOADING
        return json_response(self.world.render(message))

    async def delete_message(self, request: web.Request) -> web.Response:
        found = self._webhook_message(request)
        if isinstance(found, web.Response):
            return found
        interaction, message = found
        self.world.messages[message.channel_id].remove(message)
        if message is interaction.original:
            interaction.original = None
        else:
            interaction.followups.remove(message)
        return web.Response(status=204)


def _forced(interaction: FakeInteraction) -> int:
    """Ephemeral, whatever the app asked, where a server keeps external apps to their user."""
    return (
        _EPHEMERAL if interaction.user_install_only and not interaction.external_apps_allowed else 0
    )
