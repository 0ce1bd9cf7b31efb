"""Access lists hold on both platforms: someone outside them costs no model call at all."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.discord_env import discord_env, running, write_config
from tests.e2e.slack_env import (
    DM,
    GENERAL,
    PIRATES,
    running_slack,
    slack_env,
    write_slack_config,
)
from tests.fakes.discord_server import FakeDiscord, wait_until
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_server import FakeSlack

__all__ = ["discord_env", "slack_env"]

STAFF_ROLE = "1200000000000000777"
OUTSIDER = "1200000000000000301"


async def test_slack_allowed_channels_refuse_other_channels_but_not_dms(
    slack_env: None, tmp_path: Path, fake_slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    extra = "    allowed_channels: [C0GENERAL]\n    on_denied: refuse\n"
    config = write_slack_config(tmp_path, fake_slack, fake_openai)
    config.write_text(config.read_text().replace("    admins: [U0ADMIN]\n", extra))
    async with running_slack(config, fake_slack, fake_openai) as world:
        outside = await world.mention("answer me here", channel=PIRATES)
        await world.turns.ended(1, world.key(PIRATES, outside["ts"]))
        assert fake_openai.requests == []
        assert "not available" in (world.replies(PIRATES, outside["ts"])[0].markdown_text or "")
        inside = await world.mention("and here?")
        await world.settled(GENERAL, inside["ts"])
        await world.say("in a DM?", channel=DM)
        await wait_until(lambda: len(fake_openai.requests) == 2)
    assert [r["messages"][-1]["content"] for r in fake_openai.requests] == [  # type: ignore[index]
        "[Alice] and here?",
        "[Alice] in a DM?",
    ]


async def test_discord_allowed_roles_need_the_role(
    tmp_path: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI, discord_env: None
) -> None:
    fake_discord.add_user(OUTSIDER, "outsider")
    fake_discord.world.give_role(fake_discord.guild_id, fake_discord.user_id, STAFF_ROLE, "staff")
    # Alice owns the guild, which makes her an admin; drop that so only her role counts.
    fake_discord.world.guilds[fake_discord.guild_id].owner_id = "1200000000000000999"
    extra = f'    allowed_roles: ["{STAFF_ROLE}"]\n'
    config = write_config(tmp_path / "bots.yaml", fake_discord, fake_openai, extra)
    async with running(config, fake_discord, fake_openai) as world:
        for author in (OUTSIDER, fake_discord.user_id):
            event = fake_discord.message_create(
                fake_discord.channel_id,
                author,
                f"<@{fake_discord.bot_user_id}> hello from {author}",
                mentions=[fake_discord.bot_user_id],
            )
            await fake_discord.dispatch("MESSAGE_CREATE", event)
        await world.turns.ended(2)  # both mentions were looked at, and their turns are over
        assert world.bot.connected
    assert len(fake_openai.requests) == 1
    sent = fake_openai.requests[0]["messages"][-1]["content"]  # type: ignore[index]
    assert sent.endswith(f"hello from {fake_discord.user_id}")


async def test_discord_dms_are_ignored_when_allow_dms_is_false(
    tmp_path: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI, discord_env: None
) -> None:
    config = write_config(
        tmp_path / "bots.yaml", fake_discord, fake_openai, "    allow_dms: false\n"
    )
    dm = fake_discord.add_dm_channel(fake_discord.user_id)
    async with running(config, fake_discord, fake_openai) as world:
        event = fake_discord.message_create(str(dm["id"]), fake_discord.user_id, "hi in private")
        await fake_discord.dispatch("MESSAGE_CREATE", event)
        mention = fake_discord.message_create(
            str(dm["id"]),
            fake_discord.user_id,
            f"<@{fake_discord.bot_user_id}> even with a mention?",
            mentions=[fake_discord.bot_user_id],
        )
        await fake_discord.dispatch("MESSAGE_CREATE", mention)
        # A positive control behind them: the gateway delivers in order, so once the guild
        # mention is answered the two DMs were seen and refused, not merely late.
        guild = fake_discord.message_create(
            fake_discord.channel_id,
            fake_discord.user_id,
            f"<@{fake_discord.bot_user_id}> and here?",
            mentions=[fake_discord.bot_user_id],
        )
        await fake_discord.dispatch("MESSAGE_CREATE", guild)
        await world.turns.ended(1, world.key(str(guild["id"])))
        assert fake_discord.posted(str(dm["id"])) == []
    assert len(fake_openai.requests) == 1
    assert "and here?" in str(fake_openai.requests[0])
