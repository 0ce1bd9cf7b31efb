"""The fake Discord's world: users, guilds, channels, messages, files and registered commands."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.discord_payloads import (
    TEXT_CHANNEL,
    Payload,
    Snowflakes,
    dm_channel_payload,
    iso_now,
    member_payload,
    text_channel_payload,
    thread_payload,
    user_payload,
)
from tests.fakes.discord_state import (
    DiscordIdentity,
    FakeDiscordMessage,
    FakeInteraction,
    StoredAttachment,
)

_USER_MENTION = re.compile(r"<@!?(\d{15,21})>")
_REPLY = 19
_CHAT_INPUT_COMMAND = 20


@dataclass
class GuildRecord:
    id: str
    name: str
    owner_id: str
    joined_at: str = field(default_factory=iso_now)
    member_ids: list[str] = field(default_factory=list)
    roles: dict[str, str] = field(default_factory=dict)  # role id -> name, beside @everyone
    member_roles: dict[str, list[str]] = field(default_factory=dict)  # user id -> role ids


class World:
    """Everything the REST routes read and write; payload renderers live here too."""

    def __init__(self, identity: DiscordIdentity) -> None:
        self.identity = identity
        self.ids = Snowflakes()
        self.users: dict[str, Payload] = {}
        self.guilds: dict[str, GuildRecord] = {}
        self.channels: dict[str, Payload] = {}
        self.messages: dict[str, list[FakeDiscordMessage]] = {}
        self.attachments: dict[str, StoredAttachment] = {}
        self.interactions: dict[str, FakeInteraction] = {}
        # Scope ("global" or a guild id) to command name to the stored command.
        self.commands: dict[str, dict[str, Payload]] = {}
        self.add_user(identity.bot_user_id, identity.bot_name, bot=True)
        self.add_user(identity.user_id, identity.user_name)
        self.add_guild(identity.guild_id, identity.guild_name, identity.user_id)
        self.add_text_channel(identity.channel_id, identity.guild_id, identity.channel_name)

    # Seeding.
    def add_user(self, user_id: str, username: str, *, bot: bool = False) -> Payload:
        user = user_payload(user_id, username, bot=bot)
        self.users[user_id] = user
        for guild in self.guilds.values():
            if user_id not in guild.member_ids:
                guild.member_ids.append(user_id)
        return user

    def add_guild(self, guild_id: str, name: str, owner_id: str) -> GuildRecord:
        guild = GuildRecord(guild_id, name, owner_id, member_ids=list(self.users))
        self.guilds[guild_id] = guild
        return guild

    def add_text_channel(self, channel_id: str, guild_id: str, name: str) -> Payload:
        position = sum(1 for c in self.channels.values() if c.get("guild_id") == guild_id)
        channel = text_channel_payload(channel_id, guild_id, name, position)
        self.channels[channel_id] = channel
        return channel

    def add_thread(
        self,
        parent_id: str,
        owner_id: str,
        name: str,
        *,
        private: bool = False,
        archive: int = 1440,
    ) -> Payload:
        parent = self.channels[parent_id]
        thread_id = self.ids.next()
        thread = thread_payload(
            thread_id, parent["guild_id"], parent_id, owner_id, name, private=private,
            auto_archive_duration=archive,
        )  # fmt: skip
        self.channels[thread_id] = thread
        return thread

    def user(self, user_id: str) -> Payload:
        if user_id not in self.users:
            self.add_user(user_id, f"user{user_id[-4:]}")
        return self.users[user_id]

    def member(self, guild_id: str, user_id: str, *, with_user: bool = True) -> Payload:
        guild = self.guilds[guild_id]
        roles = list(guild.member_roles.get(user_id, []))
        return member_payload(self.user(user_id) if with_user else None, guild.joined_at, roles)

    def give_role(self, guild_id: str, user_id: str, role_id: str, name: str) -> None:
        """`user_id` holds role `role_id` in the guild (seen from the next GUILD_CREATE on)."""
        guild = self.guilds[guild_id]
        guild.roles[role_id] = name
        guild.member_roles.setdefault(user_id, []).append(role_id)

    def add_dm_channel(self, user_id: str) -> Payload:
        channel = dm_channel_payload(self.ids.next(), self.user(user_id))
        self.channels[channel["id"]] = channel
        return channel

    def guild_channels(self, guild_id: str) -> list[Payload]:
        return [c for c in self.channels.values() if c.get("guild_id") == guild_id]

    # Messages.
    def store(self, message: FakeDiscordMessage) -> FakeDiscordMessage:
        self.messages.setdefault(message.channel_id, []).append(message)
        channel = self.channels.get(message.channel_id)
        if channel is not None:
            channel["last_message_id"] = message.id
        return message

    def find(self, channel_id: str, message_id: str) -> FakeDiscordMessage | None:
        for message in self.messages.get(channel_id, []):
            if message.id == message_id:
                return message
        return None

    def find_anywhere(self, message_id: str) -> FakeDiscordMessage | None:
        for history in self.messages.values():
            for message in history:
                if message.id == message_id:
                    return message
        return None

    def guild_of(self, channel_id: str) -> str | None:
        channel = self.channels.get(channel_id)
        return None if channel is None else channel.get("guild_id")

    def render(self, message: FakeDiscordMessage, *, gateway: bool = False) -> Payload:
        """The message object; gateway events add guild_id and the author's partial member."""
        payload: Payload = {
            "id": message.id,
            "channel_id": message.channel_id,
            "author": self.user(message.author_id),
            "content": message.content,
            "timestamp": message.timestamp,
            "edited_timestamp": message.edited_timestamp,
            "tts": False,
            "mention_everyone": "@everyone" in message.content,
            "mentions": self._mentions(message),
            "mention_roles": [],
            "attachments": message.attachments,
            "embeds": message.embeds,
            "reactions": [],
            "pinned": False,
            "type": _CHAT_INPUT_COMMAND if message.interaction_id else 0,
            "flags": message.flags,
            "components": message.components,
        }
        if message.message_reference is not None:
            payload["type"] = _REPLY
            payload["message_reference"] = message.message_reference
            ref_id = str(message.message_reference.get("message_id", ""))
            referenced = self.find_anywhere(ref_id)
            payload["referenced_message"] = referenced and self.render(referenced)
        if message.interaction_id is not None:
            payload["webhook_id"] = self.identity.application_id
            payload["application_id"] = self.identity.application_id
            payload["interaction_metadata"] = self._interaction_metadata(message.interaction_id)
        if message.thread_id is not None and message.thread_id in self.channels:
            payload["thread"] = self.channels[message.thread_id]
        if gateway and message.guild_id is not None:
            payload["guild_id"] = message.guild_id
            payload["member"] = self.member(message.guild_id, message.author_id, with_user=False)
        return payload

    def _mentions(self, message: FakeDiscordMessage) -> list[Payload]:
        ids = dict.fromkeys([*message.mention_ids, *_USER_MENTION.findall(message.content)])
        mentions = []
        for user_id in ids:
            user = dict(self.user(user_id))
            if message.guild_id is not None:
                user["member"] = self.member(message.guild_id, user_id, with_user=False)
            mentions.append(user)
        return mentions

    def _interaction_metadata(self, interaction_id: str) -> Payload:
        interaction = self.interactions[interaction_id]
        return {
            "id": interaction.id,
            "type": 2,
            "name": interaction.name,
            "command_type": 1,
            "user": self.user(interaction.user_id),
            "authorizing_integration_owners": {"0": interaction.guild_id or "0"},
        }

    # Attachments.
    def attachment(
        self, channel_id: str, filename: str, content_type: str, data: bytes, base_url: str
    ) -> Payload:
        attachment_id = self.ids.next()
        url = f"{base_url}attachments/{channel_id}/{attachment_id}/{filename}"
        signed = f"{url}?ex=6f000000&is=6e000000&hm={'0' * 64}&"
        payload: Payload = {
            "id": attachment_id,
            "filename": filename,
            "size": len(data),
            "url": signed,
            "proxy_url": signed.replace("/attachments/", "/proxy/attachments/", 1),
            "content_type": content_type,
        }
        self.attachments[attachment_id] = StoredAttachment(payload, data)
        return payload

    # Application commands.
    def overwrite_commands(self, scope: str, commands: list[Payload]) -> list[Payload]:
        old = self.commands.get(scope, {})
        stored: dict[str, Payload] = {}
        for command in commands:
            name = str(command["name"])
            previous = old.get(name)
            stored[name] = self._command(scope, command, previous)
        self.commands[scope] = stored
        return list(stored.values())

    def _command(self, scope: str, command: Payload, previous: Payload | None) -> Payload:
        result: dict[str, Any] = {
            "id": previous["id"] if previous else self.ids.next(),
            "application_id": self.identity.application_id,
            "version": self.ids.next(),
            "type": command.get("type", 1),
            "name": command["name"],
            "description": command.get("description", ""),
            "options": command.get("options", []),
            "default_member_permissions": command.get("default_member_permissions"),
            "nsfw": command.get("nsfw", False),
            "contexts": command.get("contexts"),
            "integration_types": command.get("integration_types", [0]),
        }
        if scope != "global":
            result["guild_id"] = scope
        else:
            result["dm_permission"] = command.get("dm_permission", True)
        return result

    def lookup_command(self, name: str, guild_id: str | None) -> Payload | None:
        """Guild commands shadow global ones, as in Discord's client."""
        if guild_id is not None and name in self.commands.get(guild_id, {}):
            return self.commands[guild_id][name]
        return self.commands.get("global", {}).get(name)

    def is_text(self, channel_id: str) -> bool:
        channel = self.channels.get(channel_id)
        return channel is not None and channel["type"] in (TEXT_CHANNEL, 1, 11, 12)
