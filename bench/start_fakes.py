"""bench/start.py's platforms: a fake Slack or Discord, the bot that points at it, a mention."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from tests.fakes.discord_server import FakeDiscord
from tests.fakes.slack_server import FakeSlack

SLACK_BOT = """\
bots:
  - name: bench
    platform: slack
    persona: helper
    bot_token: ${{SLACK_BOT_TOKEN}}
    app_token: ${{SLACK_APP_TOKEN}}
    api_base_url: "{api}"
"""
DISCORD_BOT = """\
bots:
  - name: bench
    platform: discord
    persona: helper
    token: ${{DISCORD_TOKEN}}
    api_base_url: "{api}"
    gateway_url: "{gateway}"
    workspaces: {{"{guild}": {{persona: helper}}}}
"""
CHANNEL, USER = "C0BENCH", "U0BENCH"
REPLY = "Hello world"  # what the fake model streams by default
# Each run's mention is new: the database (and its dedupe records) outlives the runs.
MENTIONS = itertools.count(1)


@dataclass(frozen=True, slots=True)
class Connection:
    """The fake's side of one run: the config that points at it, the environment, a wait
    for the connection it sees, a mention it sends and whether the reply is shown."""

    config: str
    variables: dict[str, str]
    seen: Callable[[], Awaitable[None]]
    mention: Callable[[], Awaitable[None]]
    answered: Callable[[], bool]


@contextlib.asynccontextmanager
async def slack_fake() -> AsyncIterator[Connection]:
    async with FakeSlack() as slack:
        slack.add_user(USER, "Bench User")
        slack.add_channel(CHANNEL, "bench")
        ts = f"{1_700_000_000 + next(MENTIONS)}.000100"
        event = {
            "type": "app_mention",
            "user": USER,
            "text": f"<@{slack.bot_user_id}> hello",
            "ts": ts,
            "event_ts": ts,
            "channel": CHANNEL,
            "channel_type": "channel",
            "team": slack.team_id,
        }

        async def mention() -> None:
            await slack.send_event(event)

        def answered() -> bool:
            mine = [m for m in slack.thread(CHANNEL, ts) if m.user == slack.bot_user_id]
            return bool(mine) and REPLY in (mine[-1].markdown_text or "")

        variables = {"SLACK_BOT_TOKEN": slack.bot_token, "SLACK_APP_TOKEN": slack.app_token}
        config = SLACK_BOT.format(api=slack.api_url)
        yield Connection(config, variables, slack.wait_connected, mention, answered)


@contextlib.asynccontextmanager
async def discord_fake() -> AsyncIterator[Connection]:
    async with FakeDiscord() as discord:
        config = DISCORD_BOT.format(
            api=discord.api_url, gateway=discord.gateway_url, guild=discord.guild_id
        )
        event = discord.message_create(
            discord.channel_id,
            discord.user_id,
            f"<@{discord.bot_user_id}> hello",
            mentions=[discord.bot_user_id],
            message_id=str(1_300_000_000_000_000_000 + next(MENTIONS)),
        )

        async def mention() -> None:
            await discord.dispatch("MESSAGE_CREATE", event)

        def answered() -> bool:
            with contextlib.suppress(KeyError):  # no thread yet
                return any(REPLY in m.content for m in discord.posted(str(event["id"])))
            return False

        variables = {"DISCORD_TOKEN": discord.token}
        yield Connection(config, variables, discord.wait_ready, mention, answered)


FAKES = {"slack": slack_fake, "discord": discord_fake}
