"""Model faults seen from Slack and Discord: one short message in the thread, never a partial
reply posted twice, and the next message in the thread answered."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bots.app import Runtime
from core.errors import (
    BadCredentials,
    ContextTooLong,
    ModelError,
    ModelTimeout,
    ProviderUnavailable,
    RateLimited,
    StreamInterrupted,
)
from core.types import ConversationKey
from tests.e2e.discord_env import discord_env, running
from tests.e2e.discord_env import write_config as write_discord_config
from tests.e2e.model_faults import (
    DOWN_CHANNEL,
    KINDS,
    PARTIAL_TEXT,
    Case,
    FaultyModel,
    RefusingPort,
    provider_back_up,
    with_fault_providers,
)
from tests.e2e.slack_env import GENERAL, running_slack, slack_env, write_slack_config
from tests.e2e.turns import TurnWatch
from tests.fakes.discord_server import FakeDiscord, wait_until
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_server import FakeSlack

__all__ = ["discord_env", "slack_env"]

ERRORS: dict[str, type[ModelError]] = {
    "429": RateLimited,
    "500": ProviderUnavailable,
    "503": ProviderUnavailable,
    "timeout": ModelTimeout,
    "cut": StreamInterrupted,
    "context": ContextTooLong,
    "auth": BadCredentials,
    "refused": ProviderUnavailable,
}
# Every kind once, and a 429 that a retry absorbs: nothing of it may show.
CASES = [Case(kind, "persist", 0) for kind in KINDS] + [Case("429", "transient", 0)]


def shown_text(case: Case, notice: str) -> str:
    """What the thread must show after the first turn."""
    if case.variant == "transient":
        return f"fine: first {case.tag}"
    if case.kind == "cut":
        return "".join(PARTIAL_TEXT[:2]).strip() + "\n\n" + notice
    return notice


async def assert_stored(runtime: Runtime, key: ConversationKey, case: Case) -> None:
    """The user's words are kept; the reply is stored as what became of it."""
    stored = (await runtime.store.recent_messages(key, 10)).messages
    assert [m.role for m in stored] == ["user", "assistant"], case
    assert stored[0].content == f"first {case.tag}"
    assert stored[1].status == case.expected, case


async def settle(show: dict[Case, str], current: Callable[[Case], str], turns: TurnWatch) -> None:
    """Waits until every thread shows its text and every turn task has ended: nothing
    more will be posted or edited after that."""

    def all_shown() -> bool:
        return all(current(case) == text for case, text in show.items()) and not turns.running()

    await wait_until(all_shown, timeout=30, message="every thread shows its notice")


async def test_slack_shows_each_model_fault_as_one_short_message(
    slack_env: None, tmp_path: Path, fake_slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    model = FaultyModel()
    fake_openai.default = model
    fake_slack.add_channel(DOWN_CHANNEL, "down")
    down = RefusingPort()
    config = write_slack_config(tmp_path, fake_slack, fake_openai)
    text = with_fault_providers(config.read_text(), fake_openai.base_url, down.port)
    overrides = "      C0PIRATE: {persona: pirate}\n"
    config.write_text(
        text.replace(overrides, overrides + f"      {DOWN_CHANNEL}: {{persona: down}}\n")
    )
    try:
        async with running_slack(config, fake_slack, fake_openai) as world:
            channel = {c: DOWN_CHANNEL if c.kind == "refused" else GENERAL for c in CASES}
            roots = {c: await world.mention(f"first {c.tag}", channel=channel[c]) for c in CASES}

            def last_reply(case: Case) -> str:
                replies = world.replies(channel[case], roots[case]["ts"])
                return (replies[-1].markdown_text or "") if replies else ""

            show = {c: shown_text(c, f"_:warning: {ERRORS[c.kind].user_message}_") for c in CASES}
            await settle(show, last_reply, world.turns)
            for case in CASES:
                ts = roots[case]["ts"]
                replies = world.replies(channel[case], ts)
                posts = [
                    call
                    for method in ("chat.postMessage", "chat.startStream")
                    for call in fake_slack.calls_to(method)
                    if call.params.get("thread_ts") == ts
                ]
                assert len(replies) == 1 and len(posts) == 1, (case, replies)
                # What bounds the wait, counted rather than clocked: requests per message.
                assert model.attempts[f"first {case.tag}"] == case.attempts, case
                key = ConversationKey("slack", fake_slack.team_id, channel[case], ts)
                await assert_stored(world.runtime, key, case)
            down.release()
            async with provider_back_up(down.port, model):
                for case in CASES:
                    await world.say(
                        f"next {case.tag}", channel=channel[case], thread_ts=roots[case]["ts"]
                    )
                for case in CASES:
                    replies = await world.settled(channel[case], roots[case]["ts"], count=2)
                    assert [r.markdown_text for r in replies][1:] == [f"fine: next {case.tag}"]
    finally:
        down.release()


async def test_discord_shows_each_model_fault_as_one_short_message(
    discord_env: None, tmp_path: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI
) -> None:
    model = FaultyModel()
    fake_openai.default = model
    down_channel = "300000000000000999"
    fake_discord.add_channel(down_channel, "down")
    down = RefusingPort()
    path = tmp_path / "bots.yaml"
    override = f'    channels: {{"{down_channel}": {{persona: down}}}}\n'
    write_discord_config(path, fake_discord, fake_openai, extra=override)
    path.write_text(with_fault_providers(path.read_text(), fake_openai.base_url, down.port))
    try:
        async with running(path, fake_discord, fake_openai) as world:
            channel = {c: down_channel if c.kind == "refused" else None for c in CASES}
            # A mention opens a thread named by the message's id; the reply goes there.
            threads = {
                c: await world.say(f"first {c.tag}", channel=channel[c], mention=True)
                for c in CASES
            }

            def last_reply(case: Case) -> str:
                posted = fake_discord.posted(threads[case])
                return posted[-1].content if posted else ""

            show = {c: shown_text(c, f"⚠️ {ERRORS[c.kind].user_message}") for c in CASES}
            await settle(show, last_reply, world.turns)
            for case in CASES:
                posts = fake_discord.calls_to("POST", f"/channels/{threads[case]}/messages")
                assert len(fake_discord.posted(threads[case])) == 1 and len(posts) == 1, case
                assert model.attempts[f"first {case.tag}"] == case.attempts, case
                parent = channel[case] or fake_discord.channel_id
                key = ConversationKey("discord", fake_discord.guild_id, parent, threads[case])
                await assert_stored(world.runtime, key, case)
            down.release()
            async with provider_back_up(down.port, model):
                for case in CASES:
                    await world.say(f"next {case.tag}", channel=threads[case])
                for case in CASES:
                    await world.bot_says(threads[case], f"fine: next {case.tag}")
                    assert len(fake_discord.posted(threads[case])) == 2, case
    finally:
        down.release()
