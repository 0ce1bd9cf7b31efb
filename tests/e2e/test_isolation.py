"""Two Slack workspaces and two Discord guilds with identical channel and thread ids never
share history or a chosen persona: proven from what the fake OpenAI received."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import bots.discord.bot as discord_bot
from bots.app import Runtime, open_runtime
from bots.discord.bot import DiscordBot
from bots.slack.bot import SlackBot
from core.types import ConversationKey
from tests.e2e.turns import watching_turns
from tests.fakes.discord_server import FakeDiscord, wait_until
from tests.fakes.discord_state import DiscordIdentity
from tests.fakes.openai_server import FakeOpenAI, Script
from tests.fakes.slack_server import FakeSlack
from tests.fakes.slack_state import SlackIdentity

CHANNEL, ALICE, THREAD_TS = "C0GENERAL", "U0ALICE", "1700000500.000100"
MENTION_ID, FOLLOW_UP_ID = "1500000000000000001", "1500000000000000002"

CONFIG = """\
providers:
  fake: {{base_url: "{openai}", api_key: "${{PARLEY_TEST_KEY}}", timeout: 2, max_retries: 0}}
personas:
  helper: {{system_prompt: "You serve {{workspace_name}}.", model: gpt-4o-mini, provider: fake}}
  pirate: {{system_prompt: "Talk like a pirate.", model: gpt-4o, provider: fake}}
bots:
{bots}
storage: {{path: {database}}}
"""
SLACK_BOT = """\
  - {{name: {name}, platform: slack, persona: helper, bot_token: "${{{var}_BOT}}",
     app_token: "${{{var}_APP}}", api_base_url: "{url}"}}
"""
DISCORD_BOT = """\
  - {{name: {name}, platform: discord, persona: helper, token: "${{{var}_TOKEN}}",
     api_base_url: "{api}", gateway_url: "{gateway}"}}
"""


@contextlib.asynccontextmanager
async def _serving(runtime: Runtime, bots: list[SlackBot | DiscordBot]) -> AsyncIterator[None]:
    tasks = [asyncio.create_task(bot.run()) for bot in bots]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _secrets(request: dict[str, object]) -> set[str]:
    return set(re.findall(r"secret-\w+", str(request["messages"])))


async def _say_in_slack(slacks: dict[str, FakeSlack], first: bool) -> None:
    text = "remember" if first else "what did I say?"
    for side, slack in slacks.items():
        event = {
            "type": "app_mention", "user": ALICE, "channel": CHANNEL, "channel_type": "channel",
            "team": slack.team_id, "text": f"<@{slack.bot_user_id}> {text} secret-{side}",
            "ts": THREAD_TS if first else "1700000600.000200", "event_ts": THREAD_TS,
            "thread_ts": THREAD_TS,
        }  # fmt: skip
        await slack.send_event(event)


async def _say_in_discord(side: str, discord: FakeDiscord, first: bool) -> None:
    text = "remember" if first else "what did I say?"
    mention = f"<@{discord.bot_user_id}> " if first else ""
    event = discord.message_create(
        discord.channel_id if first else MENTION_ID,  # the follow-up is in the new thread
        discord.user_id,
        f"{mention}{text} secret-{side}",
        message_id=MENTION_ID if first else FOLLOW_UP_ID,
        mentions=[discord.bot_user_id] if first else [],
    )
    await discord.dispatch("MESSAGE_CREATE", event)


async def test_identical_ids_in_two_workspaces_and_two_guilds_stay_apart(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fake_openai: FakeOpenAI,
) -> None:
    monkeypatch.setattr(discord_bot, "GUILD_READY_TIMEOUT", 0.05)
    monkeypatch.setenv("PARLEY_TEST_KEY", "sk-test-isolation")
    fake_openai.default = Script(chunks=("noted",))
    slacks = {
        side: FakeSlack(
            SlackIdentity(
                bot_token=f"xoxb-{side}",
                app_token=f"xapp-{side}",
                team_id=f"T0{side.upper()}",
                team_name=side.title(),
            )
        )
        for side in ("acme", "globex")
    }
    discords = {
        side: FakeDiscord(
            DiscordIdentity(token=f"{side}-token.x.y", guild_id=guild, guild_name=side.title())
        )
        for side, guild in (("initech", "1300000000000000100"), ("hooli", "1400000000000000100"))
    }
    async with contextlib.AsyncExitStack() as stack:
        for fake in (*slacks.values(), *discords.values()):
            await stack.enter_async_context(fake)
        bots_yaml = ""
        for side, slack in slacks.items():
            monkeypatch.setenv(f"{side.upper()}_BOT", slack.bot_token)
            monkeypatch.setenv(f"{side.upper()}_APP", slack.app_token)
            slack.add_user(ALICE, "Alice")
            slack.add_channel(CHANNEL, "general")
            bots_yaml += SLACK_BOT.format(name=side, var=side.upper(), url=slack.api_url)
        for side, discord in discords.items():
            monkeypatch.setenv(f"{side.upper()}_TOKEN", discord.token)
            bots_yaml += DISCORD_BOT.format(
                name=side, var=side.upper(), api=discord.api_url, gateway=discord.gateway_url
            )
        config = tmp_path / "bots.yaml"
        config.write_text(
            CONFIG.format(openai=fake_openai.base_url, bots=bots_yaml, database=tmp_path / "p.db")
        )
        turns = await stack.enter_async_context(watching_turns())
        runtime = await stack.enter_async_context(open_runtime(config))
        names = [*slacks, *discords]
        slack_bots = [SlackBot(runtime.config.current.bot(n), runtime.engine) for n in slacks]
        await stack.enter_async_context(_serving(runtime, list(slack_bots)))
        for slack in slacks.values():
            await slack.wait_connected()
        # Identical ids on every side, so only the workspace can tell them apart.
        assert len({d.channel_id for d in discords.values()}) == 1
        assert len({d.user_id for d in discords.values()}) == 1
        hooli = discords["hooli"]
        # A persona chosen in one guild's thread must not leak into the other guild's.
        hooli_thread = ConversationKey("discord", hooli.guild_id, hooli.channel_id, MENTION_ID)
        await runtime.store.choose_persona(
            "initech", hooli_thread, "pirate", whole_channel=False, chosen_by="x"
        )
        # discord.py points every bot in a process at one server, so the guilds take turns
        # (on Discord itself both live behind one URL); the store and engine stay the same.
        for side, discord in discords.items():
            bot = DiscordBot(runtime.config.current.bot(side), runtime.engine)
            async with _serving(runtime, [bot]):
                await discord.wait_ready()
                await wait_until(lambda: bot.connected)  # noqa: B023
                for first in (True, False):
                    before = turns.count()
                    if side == "initech":  # the Slack workspaces talk at the same time
                        await _say_in_slack(slacks, first)
                    await _say_in_discord(side, discord, first)
                    await turns.ended(before + (3 if side == "initech" else 1))

    assert len(fake_openai.requests) == 8
    by_side: dict[str, list[dict[str, object]]] = {name: [] for name in names}
    for request in fake_openai.requests:
        (side,) = {s.removeprefix("secret-") for s in _secrets(request)}  # one side only
        by_side[side].append(request)
    for side, requests in by_side.items():
        opening, follow_up = requests
        assert _secrets(opening) == _secrets(follow_up) == {f"secret-{side}"}
        system = follow_up["messages"][0]  # type: ignore[index]
        assert system == {"role": "system", "content": f"You serve {side.title()}."}
        history = [m["content"] for m in follow_up["messages"]]  # type: ignore[attr-defined]
        assert history[1:] == [
            f"[Alice] remember secret-{side}",
            "noted",
            f"[Alice] what did I say? secret-{side}",
        ], history
