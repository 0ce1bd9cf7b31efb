"""Three `parley run` processes on one PostgreSQL behind the fake Slack (a Socket Mode
connection each, envelopes spread over them) and the fake Discord (a shard each): every
delivery answered once, threads continued on other replicas answered in order, and a replica
killed mid-reply changes neither."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg

from core.turn.rows import INTERRUPTED
from tests.e2e.processes import Parley, parley_run
from tests.e2e.slack_env import ALICE, GENERAL, mention
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import Body, FakeOpenAI, Script
from tests.fakes.slack_server import FakeSlack
from tests.fakes.waiting import wait_for_state, wait_until

REPLICAS = ("r1", "r2", "r3")
CONFIG = """\
providers:
  fake: {{base_url: "{openai_url}", api_key: "${{PARLEY_TEST_KEY}}", timeout: 10, max_retries: 1}}
personas:
  helper:
    system_prompt: "You help."
    model: gpt-4o-mini
    provider: fake
    max_tokens: 256
    context_tokens: 8000
bots:
  - name: team
    platform: slack
    persona: helper
    bot_token: ${{SLACK_BOT_TOKEN}}
    app_token: ${{SLACK_APP_TOKEN}}
    api_base_url: {slack_url}
{discord}storage: {{url: "${{PARLEY_TEST_DATABASE}}"}}
monitoring: {{enabled: false}}
"""
DISCORD = """\
  - name: disco
    platform: discord
    persona: helper
    token: ${{DISCORD_TOKEN}}
    api_base_url: "{api_url}"
    gateway_url: "{gateway_url}"
    shards: {{count: 3, per_replica: 1}}
"""


def counted_reply(body: Body) -> Script:
    """Says how many replies the model was shown and what it answers: a reply that did not
    see the one before it in its thread shows it."""
    messages = body.get("messages")
    assert isinstance(messages, list)
    seen = sum(1 for m in messages if m.get("role") == "assistant")
    asked = next(m["content"] for m in reversed(messages) if m.get("role") == "user")
    return Script(chunks=(f"after {seen} replies: {str(asked).split('] ')[-1]}",))


def write_config(
    directory: Path, slack: FakeSlack, openai: FakeOpenAI, discord: FakeDiscord | None
) -> Path:
    slack.add_user(ALICE, "Alice")
    slack.add_channel(GENERAL, "general")
    path = directory / "bots.yaml"
    block = ""
    if discord is not None:
        block = DISCORD.format(api_url=discord.api_url, gateway_url=discord.gateway_url)
    path.write_text(
        CONFIG.format(openai_url=openai.base_url, slack_url=slack.api_url, discord=block)
    )
    return path


@contextlib.asynccontextmanager
async def replica(
    config: Path, name: str, slack: FakeSlack, postgres_url: str, discord: FakeDiscord | None
) -> AsyncIterator[Parley]:
    variables = {
        "PARLEY_REPLICA": name,
        "PARLEY_TEST_KEY": "sk-test",
        "PARLEY_TEST_DATABASE": postgres_url,
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_APP_TOKEN": slack.app_token,
        "DISCORD_TOKEN": discord.token if discord is not None else "",
    }
    async with parley_run(config, **variables) as parley:
        try:
            yield parley
        except BaseException:
            print(f"replica {name} said:", *parley.lines, sep="\n  ")  # in the failure report
            raise


@contextlib.asynccontextmanager
async def three_replicas(
    config: Path, slack: FakeSlack, postgres_url: str, discord: FakeDiscord | None = None
) -> AsyncIterator[list[Parley]]:
    """Started one after another, so connection n (0 the oldest) is replica n's."""
    async with contextlib.AsyncExitStack() as stack:
        started = []
        for count, name in enumerate(REPLICAS, start=1):
            started.append(
                await stack.enter_async_context(replica(config, name, slack, postgres_url, discord))
            )
            await slack.wait_connected(60, count=count)
        if discord is not None:
            for shard in range(3):
                await discord.wait_ready(shard)
        yield started


def replies(slack: FakeSlack, thread_ts: str) -> list[str]:
    return [
        m.markdown_text or m.text
        for m in slack.thread(GENERAL, thread_ts)
        if m.user == slack.bot_user_id
    ]


async def rows(url: str, sql: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


async def test_a_thousand_deliveries_over_three_replicas_are_each_answered_once_in_order(
    tmp_path: Path,
    fake_slack: FakeSlack,
    fake_openai: FakeOpenAI,
    postgres_url: str,
) -> None:
    threads, redelivered, per_shard = 350, 150, 50
    fake_openai.default = counted_reply
    async with FakeDiscord(shards=3, max_concurrency=3) as discord:
        channels = [discord.add_guild_on_shard(shard)[1] for shard in range(3)]
        config = write_config(tmp_path, fake_slack, fake_openai, discord)
        async with three_replicas(config, fake_slack, postgres_url, discord):
            roots = [f"1700{n:06d}.000100" for n in range(threads)]
            # Each thread's first message to one replica; some delivered again to another.
            first = await asyncio.gather(
                *(
                    fake_slack.send_event(mention(fake_slack, f"one {n}", ts), to=n % 3)
                    for n, ts in enumerate(roots)
                )
            )
            await asyncio.gather(*(fake_slack.redeliver(e) for e in first[:redelivered]))

            async def all_stored() -> bool:
                found = await rows(
                    postgres_url, "SELECT count(*) FROM messages WHERE role = 'user'"
                )
                return int(found[0][0]) == threads

            await wait_for_state(all_stored, 120, "every first message stored")
            # The follow-up in each thread goes to the next replica, while the first reply
            # may still be on its way.
            await asyncio.gather(
                *(
                    fake_slack.send_event(
                        mention(fake_slack, f"two {n}", f"1800{n:06d}.000100", ts), to=(n + 1) % 3
                    )
                    for n, ts in enumerate(roots)
                )
            )
            mentions = []
            for shard, channel in enumerate(channels):
                for n in range(per_shard):
                    content = f"<@{discord.bot_user_id}> shard {shard} number {n}"
                    event = discord.message_create(
                        channel, discord.user_id, content, mentions=[discord.bot_user_id]
                    )
                    await discord.dispatch("MESSAGE_CREATE", event)
                    mentions.append((str(event["id"]), f"shard {shard} number {n}"))

            def all_answered() -> bool:
                slack_done = all(len(replies(fake_slack, ts)) >= 2 for ts in roots)
                return slack_done and all(discord.posted(thread) for thread, _ in mentions)

            await wait_until(all_answered, 180, "every delivery answered")
            calls_when_done = len(fake_openai.requests)
            # A last delivery behind everything: once it is answered, nothing is still coming.
            marker = await fake_slack.send_event(mention(fake_slack, "last", "1900000000.000100"))
            await wait_until(lambda: len(replies(fake_slack, "1900000000.000100")) == 1, 60)
            del marker

    deliveries = threads * 2 + redelivered + 3 * per_shard
    assert deliveries == 1000
    for n, ts in enumerate(roots):
        assert replies(fake_slack, ts) == [f"after 0 replies: one {n}", f"after 1 replies: two {n}"]
    for thread, text in mentions:
        (answer,) = discord.posted(thread)
        assert answer.content == f"after 0 replies: {text}"
    assert calls_when_done == threads * 2 + 3 * per_shard
    assert len(fake_openai.requests) == calls_when_done + 1
    # The turns were spread: every replica answered some of them.
    writers = await rows(
        postgres_url, "SELECT DISTINCT replica FROM messages WHERE role = 'assistant'"
    )
    assert sorted(r[0] for r in writers) == list(REPLICAS)


async def test_a_replica_killed_mid_reply_leaves_the_others_answering_and_nothing_twice(
    tmp_path: Path,
    fake_slack: FakeSlack,
    fake_openai: FakeOpenAI,
    postgres_url: str,
) -> None:
    fake_openai.default = counted_reply
    slow = Script(chunks=tuple(f"word{n} " for n in range(60)), delay_between_chunks=0.2)
    config = write_config(tmp_path, fake_slack, fake_openai, None)
    story = mention(fake_slack, "a long story", "1700000000.000100")
    async with three_replicas(config, fake_slack, postgres_url) as (_, victim, _):
        fake_openai.enqueue(slow)
        envelope = await fake_slack.send_event(story, to=1)

        async def words_stored() -> bool:
            found = await rows(
                postgres_url,
                "SELECT replica, content FROM messages WHERE role = 'assistant'",
            )
            return len(found) == 1 and "word0" in found[0]["content"]

        await wait_for_state(words_stored, 60, "the slow reply's first words stored")
        victim.child.send_signal(signal.SIGKILL)
        assert await victim.exit_code() == -signal.SIGKILL
        await wait_until(lambda: len(fake_slack.socket.pool.open) == 2, 30)

        # The others keep answering, and Slack's retry of the killed reply's event (to a
        # live replica) is not answered again: its reply showed words.
        others = [f"1700{n:06d}.000200" for n in range(1, 21)]
        await asyncio.gather(
            *(
                fake_slack.send_event(mention(fake_slack, f"q {n}", ts))
                for n, ts in enumerate(others)
            )
        )
        await fake_slack.redeliver(envelope)
        await wait_until(lambda: all(len(replies(fake_slack, ts)) == 1 for ts in others), 60)

        # The killed replica comes back under its name: its sweep marks its own reply.
        async with replica(config, "r2", fake_slack, postgres_url, None):
            await fake_slack.wait_connected(60, count=3)

            async def marked() -> bool:
                found = await rows(
                    postgres_url,
                    "SELECT error FROM messages WHERE role = 'assistant' AND replica = 'r2'"
                    " AND content LIKE 'word0%'",
                )
                return [r["error"] for r in found] == [INTERRUPTED]

            await wait_for_state(marked, 60, "the killed replica's reply marked interrupted")
            last = "1700000099.000300"
            await fake_slack.send_event(mention(fake_slack, "after the restart", last))
            await wait_until(lambda: len(replies(fake_slack, last)) == 1, 60)

    assert len(fake_openai.requests) == 1 + len(others) + 1
    asked = [json.dumps(r["messages"]) for r in fake_openai.requests]
    assert sum("a long story" in text for text in asked) == 1
    statuses = await rows(
        postgres_url, "SELECT status, error FROM messages WHERE role = 'assistant' ORDER BY id"
    )
    assert [tuple(r) for r in statuses].count(("complete", "")) == len(others) + 1
