"""FakeDiscord against the real discord.py: login, gateway, resume, replies, commands, faults."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import AsyncIterator

import aiohttp
import pytest

with warnings.catch_warnings():
    # discord.py imports audioop, deprecated since 3.11; filterwarnings=error would fail the
    # import. Redundant once pyproject ignores "'audioop' is deprecated".
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    import discord
    from discord import app_commands
    from discord.ext import commands

from tests.fakes.discord_events import hide_content
from tests.fakes.discord_server import FakeDiscord, wait_until
from tests.fakes.discord_wiring import point_discord_at

INTENTS = discord.Intents(guilds=True, guild_messages=True, message_content=True, dm_messages=True)


@app_commands.command(description="Answers pong after thinking.")
async def ping(interaction: discord.Interaction[discord.Client]) -> None:
    await interaction.response.defer(thinking=True)
    await interaction.edit_original_response(content="pong")
    await interaction.followup.send("and again")


class EchoBot(commands.Bot):
    """Replies to every message from someone else; keeps what it saw and what failed."""

    def __init__(self, guild_id: str) -> None:
        super().__init__(command_prefix="!", intents=INTENTS, guild_ready_timeout=0.05)
        self.home = discord.Object(int(guild_id))
        self.seen: list[discord.Message] = []
        self.failures: list[discord.HTTPException] = []
        self.synced: list[app_commands.AppCommand] = []

    async def setup_hook(self) -> None:
        self.tree.add_command(ping, guild=self.home)
        self.synced = await self.tree.sync(guild=self.home)

    async def on_message(self, message: discord.Message) -> None:
        if self.user is None or message.author.id == self.user.id:
            return
        self.seen.append(message)
        try:
            await message.reply(f"echo: {message.content}")
        except discord.HTTPException as exc:
            self.failures.append(exc)


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as fake:
        yield fake


@pytest.fixture
async def bot(fake: FakeDiscord) -> AsyncIterator[EchoBot]:
    with point_discord_at(fake):
        bot = EchoBot(fake.guild_id)
        runner = asyncio.create_task(bot.start(fake.token))
        try:
            await fake.wait_ready()
            await wait_until(bot.is_ready, message="on_ready")
            yield bot
        finally:
            await bot.close()
            async with asyncio.timeout(5):
                await runner


async def say(fake: FakeDiscord, content: str) -> str:
    """Alice writes in #general; returns the message id."""
    event = fake.message_create(fake.channel_id, fake.user_id, content)
    await fake.dispatch("MESSAGE_CREATE", event)
    return str(event["id"])


def replies_to(fake: FakeDiscord, message_id: str) -> list[str]:
    posted = fake.posted(fake.channel_id)
    return [
        m.content for m in posted if (m.message_reference or {}).get("message_id") == message_id
    ]


async def test_login_syncs_commands_and_identifies_with_zlib_stream(
    fake: FakeDiscord, bot: EchoBot
) -> None:
    assert len(fake.calls_to("GET", "/users/@me")) == 1
    assert len(fake.calls_to("GET", "/oauth2/applications/@me")) == 1
    sync_path = f"/applications/{fake.application_id}/guilds/{fake.guild_id}/commands"
    assert [c.json[0]["name"] for c in fake.calls_to("PUT", sync_path)] == ["ping"]
    assert [c.name for c in bot.synced] == ["ping"]
    assert str(bot.synced[0].id) == fake.commands(fake.guild_id)[0]["id"]
    assert fake.calls[0].headers["Authorization"] == f"Bot {fake.token}"
    assert "compress=zlib-stream" in fake.gateway.connections[0]
    assert (fake.identify_count, fake.resume_count) == (1, 0)
    guild = bot.get_guild(int(fake.guild_id))
    assert guild is not None and guild.me is not None
    assert bot.get_channel(int(fake.channel_id)) is not None
    assert bot.application_id == int(fake.application_id)


async def test_message_gets_a_reply_with_a_reference(fake: FakeDiscord, bot: EchoBot) -> None:
    message_id = await say(fake, "hello")

    await wait_until(lambda: replies_to(fake, message_id) == ["echo: hello"])
    assert bot.seen[0].author.id == int(fake.user_id)
    # Discord echoes the bot's own message back on the gateway, as MESSAGE_CREATE.
    assert fake.gateway.session is not None
    assert fake.gateway.session.history[-1]["t"] == "MESSAGE_CREATE"


async def test_slash_command_defers_then_edits_the_original(
    fake: FakeDiscord, bot: EchoBot
) -> None:
    event = fake.interaction_create("ping")
    await fake.dispatch("INTERACTION_CREATE", event)

    interaction = fake.interaction(str(event["id"]))
    await wait_until(lambda: interaction.followup_contents == ["and again"])
    assert interaction.original_content == "pong"
    callback = fake.calls_to("POST", f"/interactions/{event['id']}/")
    assert [c.json["type"] for c in callback] == [5]
    assert interaction.deferred
    token_path = f"/webhooks/{fake.application_id}/{interaction.token}/messages/@original"
    assert fake.calls_to("PATCH", token_path)[0].json["content"] == "pong"
    assert event["data"]["id"] == fake.commands(fake.guild_id)[0]["id"]


async def test_reconnect_resumes_and_replays_what_was_missed(
    fake: FakeDiscord, bot: EchoBot
) -> None:
    await fake.request_reconnect()
    # Sent while the client is away: kept in the session and replayed on RESUME.
    missed = await say(fake, "while away")

    await fake.wait_ready()
    await wait_until(lambda: replies_to(fake, missed) == ["echo: while away"])
    assert (fake.identify_count, fake.resume_count) == (1, 1)
    assert fake.gateway.connections[-1].startswith("/gateway/resume?")
    after = await say(fake, "after")
    await wait_until(lambda: replies_to(fake, after) == ["echo: after"])


async def test_resumable_invalid_session_resumes(fake: FakeDiscord, bot: EchoBot) -> None:
    await fake.invalidate_session(resumable=True)

    await fake.wait_ready()
    await wait_until(lambda: fake.resume_count == 1)
    message_id = await say(fake, "still here")
    await wait_until(lambda: replies_to(fake, message_id) == ["echo: still here"])
    assert fake.identify_count == 1


async def test_rate_limit_with_via_is_retried(fake: FakeDiscord, bot: EchoBot) -> None:
    path = f"/channels/{fake.channel_id}/messages"
    fake.fail_next("POST", path, status=429, retry_after=0.1)

    message_id = await say(fake, "busy")

    await wait_until(lambda: replies_to(fake, message_id) == ["echo: busy"])
    assert len(fake.calls_to("POST", path)) == 2
    assert bot.failures == []


async def test_rate_limit_without_via_is_a_cloudflare_ban(fake: FakeDiscord, bot: EchoBot) -> None:
    fake.fail_next("POST", f"/channels/{fake.channel_id}/messages", status=429, via=False)

    await say(fake, "banned")

    await wait_until(lambda: len(bot.failures) == 1)
    assert bot.failures[0].status == 429


async def test_missing_permissions_raise_forbidden(fake: FakeDiscord, bot: EchoBot) -> None:
    fake.fail_next("POST", f"/channels/{fake.channel_id}/messages", status=403)

    message_id = await say(fake, "secret")

    await wait_until(lambda: len(bot.failures) == 1)
    failure = bot.failures[0]
    assert isinstance(failure, discord.Forbidden)
    assert (failure.status, failure.code) == (403, 50013)
    assert replies_to(fake, message_id) == []


async def test_threads_history_and_attachments(fake: FakeDiscord, bot: EchoBot) -> None:
    attachment = fake.add_attachment("notes.txt", "text/plain", b"remember the milk")
    event = fake.message_create(fake.channel_id, fake.user_id, "see file", attachments=[attachment])
    await fake.dispatch("MESSAGE_CREATE", event)
    await wait_until(lambda: len(bot.seen) == 1)
    assert await bot.seen[0].attachments[0].read() == b"remember the milk"
    assert [d.status for d in fake.downloads] == [200]

    thread = await bot.seen[0].create_thread(name="about the file")
    await thread.send("in the thread")
    assert fake.channel(str(thread.id))["type"] == 11
    assert [m.content for m in fake.messages(str(thread.id))] == ["in the thread"]
    await wait_until(lambda: bot.get_channel(thread.id) is not None, message="THREAD_CREATE")

    channel = bot.get_channel(int(fake.channel_id))
    assert isinstance(channel, discord.TextChannel)
    history = [m.content async for m in channel.history(limit=10)]
    assert history[-1] == "see file"


async def test_without_the_content_intent_other_peoples_text_is_blank(fake: FakeDiscord) -> None:
    plain = fake.message_create(fake.channel_id, fake.user_id, "hello")
    mention = fake.message_create(fake.channel_id, fake.user_id, f"<@{fake.bot_user_id}> hi")

    assert hide_content(fake.world, plain, intents=1 << 9)["content"] == ""
    assert hide_content(fake.world, mention, intents=1 << 9)["content"].endswith("hi")
    assert hide_content(fake.world, plain, intents=(1 << 9) | (1 << 15))["content"] == "hello"


async def test_a_first_callback_after_the_window_is_an_unknown_interaction(
    fake: FakeDiscord, bot: EchoBot
) -> None:
    fake.response_window = 0.0  # every callback is late: the bot's own defer fails too
    event = fake.interaction_create("ping")
    await fake.dispatch("INTERACTION_CREATE", event)
    interaction = fake.interaction(str(event["id"]))
    url = f"{fake.api_url}/interactions/{interaction.id}/{interaction.token}/callback"
    async with aiohttp.ClientSession() as session, session.post(url, json={"type": 5}) as answer:
        status, body = answer.status, await answer.json()
    assert (status, body["code"], body["message"]) == (404, 10062, "Unknown interaction")
    assert not interaction.acknowledged
