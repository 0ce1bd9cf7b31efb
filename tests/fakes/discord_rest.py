"""REST routes of a fake Discord for channels (messages, history, typing, threads) and files."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from tests.fakes.discord_components import components_error
from tests.fakes.discord_http import BODY, UPLOADS, Upload, error, form_error, json_response
from tests.fakes.discord_payloads import MESSAGE_CONTENT_LIMIT, Payload, iso_now
from tests.fakes.discord_state import Download, FakeDiscordMessage
from tests.fakes.discord_world import World

Emit = Callable[[str, Any], Awaitable[object]]


def body_of(request: web.Request) -> Payload:
    body = request.get(BODY)
    return body if isinstance(body, dict) else {}


def uploads_of(request: web.Request) -> list[Upload]:
    return request.get(UPLOADS) or []


def compose(
    world: World, channel_id: str, author_id: str, request: web.Request, base_url: str
) -> FakeDiscordMessage | web.Response:
    """A new (unstored) message from a send body, or the 400 Discord would answer."""
    body, uploads = body_of(request), uploads_of(request)
    content = str(body.get("content") or "")
    if len(content) > MESSAGE_CONTENT_LIMIT:
        return form_error("content", "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")
    attachments = [
        world.attachment(channel_id, u.filename, u.content_type, u.data, base_url) for u in uploads
    ]
    embeds = list(body.get("embeds") or [])
    if body.get("components") and (problem := components_error(body["components"])):
        return form_error("components", "COMPONENT_INVALID", problem)
    if not (content or attachments or embeds or body.get("components") or body.get("sticker_ids")):
        return error(400, "Cannot send an empty message", 50006)
    reference = body.get("message_reference")
    if isinstance(reference, dict):
        target = world.find_anywhere(str(reference.get("message_id")))
        if target is None and reference.get("fail_if_not_exists", True):
            return form_error(
                "message_reference", "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message"
            )
        # discord.py sends ids as ints; Discord answers with snowflake strings.
        ids = {k: str(v) for k, v in reference.items() if k.endswith("_id") and v is not None}
        reference = {"type": 0, "channel_id": channel_id, **reference, **ids}
        reference["guild_id"] = reference.get("guild_id") or world.guild_of(channel_id)
    return FakeDiscordMessage(
        id=world.ids.next(),
        channel_id=channel_id,
        author_id=author_id,
        content=content,
        guild_id=world.guild_of(channel_id),
        message_reference=reference if isinstance(reference, dict) else None,
        allowed_mentions=body.get("allowed_mentions"),
        attachments=attachments,
        embeds=embeds,
        components=list(body.get("components") or []),
        flags=int(body.get("flags") or 0),
    )


def apply_edit(world: World, message: FakeDiscordMessage, body: Payload) -> web.Response | None:
    """Applies a PATCH body to `message`; a 400 response when the new content is too long."""
    if "content" in body:
        content = str(body["content"] or "")
        if len(content) > MESSAGE_CONTENT_LIMIT:
            return form_error("content", "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")
        message.history.append(message.content)
        message.content = content
    if body.get("components") and (problem := components_error(body["components"])):
        return form_error("components", "COMPONENT_INVALID", problem)
    for key in ("embeds", "components"):
        if key in body:
            setattr(message, key, list(body[key] or []))
    if "allowed_mentions" in body or "content" in body:
        # Discord reads new content's mentions by the edit's own rules, by default all.
        message.allowed_mentions = body.get("allowed_mentions")
    message.edits += 1
    message.edited_timestamp = iso_now()
    return None


class ChannelRoutes:
    """Channel and message routes; messages the bot writes come back as gateway events."""

    def __init__(self, world: World, emit: Emit, base_url: Callable[[], str]) -> None:
        self.world = world
        self.emit = emit
        self.base_url = base_url
        # (author, nonce) -> message id, for sends with enforce_nonce: Discord keeps them a
        # few minutes; a test's run is shorter, so the fake keeps them for good.
        self._nonces: dict[tuple[str, str], str] = {}

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/channels/{channel}", self.get_channel),
            web.get("/channels/{channel}/messages", self.history),
            web.post("/channels/{channel}/messages", self.create),
            web.get("/channels/{channel}/messages/{message}", self.get_message),
            web.patch("/channels/{channel}/messages/{message}", self.edit),
            web.delete("/channels/{channel}/messages/{message}", self.delete),
            web.post("/channels/{channel}/typing", self.typing),
            web.post("/channels/{channel}/threads", self.start_thread),
            web.post("/channels/{channel}/messages/{message}/threads", self.start_thread),
        ]

    def _channel(self, request: web.Request) -> str | None:
        channel_id = request.match_info["channel"]
        return channel_id if channel_id in self.world.channels else None

    def _message(self, request: web.Request) -> FakeDiscordMessage | None:
        channel_id = request.match_info["channel"]
        return self.world.find(channel_id, request.match_info["message"])

    async def get_channel(self, request: web.Request) -> web.Response:
        channel_id = self._channel(request)
        if channel_id is None:
            return error(404, "Unknown Channel", 10003)
        return json_response(self.world.channels[channel_id])

    async def history(self, request: web.Request) -> web.Response:
        """Newest first, honouring limit, before and after, as GET /channels/{id}/messages does."""
        channel_id = self._channel(request)
        if channel_id is None:
            return error(404, "Unknown Channel", 10003)
        limit = min(int(request.query.get("limit", "50")), 100)
        messages = self.world.messages.get(channel_id, [])
        before, after = request.query.get("before"), request.query.get("after")
        if before:
            messages = [m for m in messages if int(m.id) < int(before)]
        if after:
            messages = [m for m in messages if int(m.id) > int(after)][:limit]
        newest_first = list(reversed(messages))[:limit]
        return json_response([self.world.render(m) for m in newest_first])

    async def create(self, request: web.Request) -> web.Response:
        channel_id = self._channel(request)
        if channel_id is None:
            return error(404, "Unknown Channel", 10003)
        bot_id = self.world.identity.bot_user_id
        body = body_of(request)
        nonce = str(body["nonce"]) if body.get("nonce") and body.get("enforce_nonce") else None
        if nonce is not None and (bot_id, nonce) in self._nonces:
            earlier = self.world.find_anywhere(self._nonces[bot_id, nonce])
            if earlier is not None:
                return json_response(self.world.render(earlier))
        message = compose(self.world, channel_id, bot_id, request, self.base_url())
        if isinstance(message, web.Response):
            return message
        if nonce is not None:
            self._nonces[bot_id, nonce] = message.id
        self.world.store(message)
        await self.emit("MESSAGE_CREATE", self.world.render(message, gateway=True))
        return json_response(self.world.render(message))

    async def get_message(self, request: web.Request) -> web.Response:
        message = self._message(request)
        if message is None:
            return error(404, "Unknown Message", 10008)
        return json_response(self.world.render(message))

    async def edit(self, request: web.Request) -> web.Response:
        message = self._message(request)
        if message is None:
            return error(404, "Unknown Message", 10008)
        if message.author_id != self.world.identity.bot_user_id:
            return error(403, "Cannot edit a message authored by another user", 50005)
        refusal = apply_edit(self.world, message, body_of(request))
        if refusal is not None:
            return refusal
        await self.emit("MESSAGE_UPDATE", self.world.render(message, gateway=True))
        return json_response(self.world.render(message))

    async def delete(self, request: web.Request) -> web.Response:
        message = self._message(request)
        if message is None:
            return error(404, "Unknown Message", 10008)
        self.world.messages[message.channel_id].remove(message)
        deleted = {"id": message.id, "channel_id": message.channel_id}
        if message.guild_id is not None:
            deleted["guild_id"] = message.guild_id
        await self.emit("MESSAGE_DELETE", deleted)
        return web.Response(status=204)

    async def typing(self, request: web.Request) -> web.Response:
        if self._channel(request) is None:
            return error(404, "Unknown Channel", 10003)
        return web.Response(status=204)

    async def start_thread(self, request: web.Request) -> web.Response:
        """POST .../threads (type 11 or 12) or .../messages/{id}/threads (always public)."""
        channel_id = self._channel(request)
        if channel_id is None or self.world.channels[channel_id]["type"] != 0:
            return error(404, "Unknown Channel", 10003)
        starter = None
        if "message" in request.match_info:
            starter = self._message(request)
            if starter is None:
                return error(404, "Unknown Message", 10008)
            if starter.thread_id is not None:
                return error(400, "A thread has already been created for this message", 160004)
        body = body_of(request)
        name = str(body.get("name") or "")
        if not 1 <= len(name) <= 100:
            return form_error(
                "name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."
            )
        private = starter is None and body.get("type", 12) == 12
        archive = int(body.get("auto_archive_duration") or 1440)
        bot_id = self.world.identity.bot_user_id
        thread = self.world.add_thread(channel_id, bot_id, name, private=private, archive=archive)
        if starter is not None:
            starter.thread_id = thread["id"]
            # Threads started from a message share the message's id on Discord.
            self.world.channels[starter.id] = self.world.channels.pop(thread["id"])
            thread["id"] = thread["member"]["id"] = starter.thread_id = starter.id
        await self.emit("THREAD_CREATE", {**thread, "newly_created": True})
        return json_response(thread, status=201)


class AttachmentRoutes:
    """The CDN: attachment URLs (and proxy URLs) serve the stored bytes to anyone."""

    def __init__(self, world: World, downloads: list[Download]) -> None:
        self.world = world
        self.downloads = downloads

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/attachments/{channel}/{attachment}/{name}", self.download),
            web.get("/proxy/attachments/{channel}/{attachment}/{name}", self.download),
        ]

    async def download(self, request: web.Request) -> web.Response:
        attachment_id, name = request.match_info["attachment"], request.match_info["name"]
        stored = self.world.attachments.get(attachment_id)
        status = 200 if stored is not None and stored.payload["filename"] == name else 404
        authorization = request.headers.get("Authorization")
        download = Download(attachment_id, name, authorization, status, time.monotonic())
        self.downloads.append(download)
        if status != 200 or stored is None:
            return web.Response(status=404, text="404: Not Found")
        content_type = str(stored.payload["content_type"])
        return web.Response(body=stored.data, headers={"Content-Type": content_type})
