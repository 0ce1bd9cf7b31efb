"""A provider that never finishes or floods past max_tokens, seen from Slack and Discord: one
short note in the thread, a bounded number of messages, and the next message answered."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ModelError, ReplyCut, ReplyTimedOut
from core.types import ConversationKey
from tests.e2e.discord_env import discord_env, running
from tests.e2e.discord_env import write_config as write_discord_config
from tests.e2e.slack_env import GENERAL, running_slack, slack_env, write_slack_config
from tests.e2e.turns import TurnWatch
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI, Script, echo_last_user
from tests.fakes.slack_server import FakeSlack

__all__ = ["discord_env", "slack_env"]

# The providers' read timeout in both shared configs is 2 s: the endless streams send
# something every 0.2 s, so only Parley's own deadlines and cap can end them.
LIMITS = "limits: {first_text_seconds: 1, reply_seconds: 2}\n"
MAX_TOKENS = 256  # the helper persona in both shared configs
CAP = MAX_TOKENS * 8  # core/turn/limits.py: characters per token of max_tokens
# Two platform messages hold the cap and the note on Discord (2,000 a message); one more
# for slack.
MAX_PARTS = 3

SCRIPTS = {
    "keepalive": Script(chunks=(), endless="keepalive", endless_every=0.2),
    # As fast as the socket takes it: megabytes within the deadline, were it not cut.
    "flood": Script(chunks=("Start ",), endless="words", endless_every=0, endless_text="x" * 500),
}
ERRORS: dict[str, type[ModelError]] = {"keepalive": ReplyTimedOut, "flood": ReplyCut}


async def assert_stored(turns: TurnWatch, stored: list[tuple[str, str, str]], kind: str) -> None:
    assert [(role, status) for role, status, _ in stored] == [
        ("user", "complete"),
        ("assistant", "failed" if kind == "keepalive" else "partial"),
    ], stored
    error = stored[1][2]
    assert ("first text" if kind == "keepalive" else "cut at") in error, error
    assert not turns.running()


@pytest.mark.parametrize("kind", list(SCRIPTS))
async def test_slack_thread_gets_one_note_and_goes_on(
    slack_env: None, tmp_path: Path, fake_slack: FakeSlack, fake_openai: FakeOpenAI, kind: str
) -> None:
    fake_openai.default = echo_last_user
    fake_openai.enqueue(SCRIPTS[kind])
    config = write_slack_config(tmp_path, fake_slack, fake_openai, extra=LIMITS)
    async with running_slack(config, fake_slack, fake_openai) as world:
        root = await world.mention("first")
        ts = root["ts"]
        key = ConversationKey("slack", fake_slack.team_id, GENERAL, ts)
        # Not world.settled: a partial row is this turn's last word, not one still running.
        await world.turns.ended(1, key)
        replies = world.replies(GENERAL, ts)
        notice = f"_:warning: {ERRORS[kind].user_message}_"
        text = "\n".join(r.markdown_text or "" for r in replies)
        assert text.endswith(notice) and text.count(":warning:") == 1, text
        posts = [
            c for c in fake_slack.calls_to("chat.postMessage") if c.params.get("thread_ts") == ts
        ]
        assert len(replies) <= MAX_PARTS and len(posts) <= MAX_PARTS, len(posts)
        if kind == "flood":
            assert text.startswith("Start") and len(text) <= CAP + len(notice) + 10
        rows = (await world.runtime.store.recent_messages(key, 10)).messages
        await assert_stored(world.turns, [(m.role, m.status, m.error) for m in rows], kind)
        # The next message in the same thread is stored and answered.
        await world.say("next", thread_ts=ts)
        after = await world.settled(GENERAL, ts, count=len(replies) + 1)
        assert (after[-1].markdown_text or "").endswith("next")
        rows = (await world.runtime.store.recent_messages(key, 10)).messages
        assert [(m.role, m.status) for m in rows[-2:]] == [
            ("user", "complete"),
            ("assistant", "complete"),
        ]


@pytest.mark.parametrize("kind", list(SCRIPTS))
async def test_discord_thread_gets_one_note_and_goes_on(
    discord_env: None,
    tmp_path: Path,
    fake_discord: FakeDiscord,
    fake_openai: FakeOpenAI,
    kind: str,
) -> None:
    fake_openai.default = echo_last_user
    fake_openai.enqueue(SCRIPTS[kind])
    path = write_discord_config(tmp_path / "bots.yaml", fake_discord, fake_openai)
    path.write_text(path.read_text() + LIMITS)
    async with running(path, fake_discord, fake_openai) as world:
        thread = await world.say("first", mention=True)
        await world.turns.ended(1, world.key(thread))
        posted = fake_discord.posted(thread)
        notice = f"⚠️ {ERRORS[kind].user_message}"
        text = "".join(m.content for m in posted)
        assert text.endswith(notice) and text.count("⚠️") == 1, text
        posts = fake_discord.calls_to("POST", f"/channels/{thread}/messages")
        assert len(posted) <= MAX_PARTS and len(posts) <= MAX_PARTS, len(posts)
        if kind == "flood":
            assert text.startswith("Start") and len(text) <= CAP + len(notice) + 10
        rows = (await world.runtime.store.recent_messages(world.key(thread), 10)).messages
        await assert_stored(world.turns, [(m.role, m.status, m.error) for m in rows], kind)
        await world.say("next", channel=thread)
        await world.turns.ended(2, world.key(thread))
        after = await world.settled(thread, count=len(posted) + 1)
        assert after[-1].content.endswith("next")
        rows = (await world.runtime.store.recent_messages(world.key(thread), 10)).messages
        assert [(m.role, m.status) for m in rows[-2:]] == [
            ("user", "complete"),
            ("assistant", "complete"),
        ]
