"""Over 1,000 retried and duplicated deliveries on Slack and Discord: each answered once.

Every distinct user message arrives several times, all copies at once and shuffled, across
many conversations; the model fake answers instantly. The counts at the fakes must come
out at exactly one model call and one posted reply per distinct message.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.e2e.discord_env import DiscordWorld, discord_env, discord_world
from tests.e2e.slack_env import (
    GENERAL,
    HTTP_MODE,
    SIGNING_SECRET,
    SlackWorld,
    running_slack,
    slack,
    slack_env,
    write_slack_config,
)
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI, echo_last_user
from tests.fakes.slack_server import FakeSlack, wait_until
from tests.fakes.slack_signing import signed_headers

__all__ = ["discord_env", "discord_world", "slack", "slack_env"]

SLACK_THREADS = 60  # x (5 copies of a mention + 3 of a follow-up) = 480 deliveries
HTTP_THREADS = 30  # x (6 + 3) = 270
DISCORD_THREADS = 40  # x (3 + 3) = 240, plus 20 /ask x 2 = 40
DISCORD_ASKS = 20
Delivery = Callable[[], Awaitable[Any]]


async def _deliver_all(deliveries: list[Delivery], seed: int) -> int:
    random.Random(seed).shuffle(deliveries)
    await asyncio.gather(*(deliver() for deliver in deliveries))
    return len(deliveries)


def _asked(openai: FakeOpenAI) -> Counter[str]:
    """How many model calls each user message got (the last user turn of each request)."""
    asked: Counter[str] = Counter()
    for body in openai.requests:
        users = [m["content"] for m in body["messages"] if m["role"] == "user"]  # type: ignore[attr-defined]
        asked[users[-1]] += 1
    return asked


def _assert_once(asked: Counter[str], replies: dict[str, list[str]], texts: list[str]) -> None:
    """Exactly one model call and one reply, reading the model's answer, per message."""
    assert sorted(asked) == sorted(f"[Alice] {text}" for text in texts)
    assert set(asked.values()) == {1}, [t for t, n in asked.items() if n > 1]
    for text in texts:
        assert replies[text] == [f"echo: [Alice] {text}"], (text, replies[text])


# Slack over Socket Mode: retry_attempt in the envelope, new event ids, the mention pair.


def _slack_copies(world: SlackWorld, event: dict[str, Any], *, pair: bool) -> list[Delivery]:
    fake, first = world.slack, f"Ev{event['ts']}"
    copies: list[Delivery] = [
        lambda: fake.send_event(event, event_id=first),
        lambda: fake.send_event(event, event_id=first, retry_attempt=1, retry_reason="timeout"),
        lambda: fake.send_event(event, event_id=f"{first}new"),  # re-sent with a new id
    ]
    if pair:  # a mention arrives as app_mention and as message; Slack retries it too
        message = {**event, "type": "message"}
        copies.append(lambda: fake.send_event(message, event_id=f"{first}msg"))
        copies.append(
            lambda: fake.send_event(
                event, event_id=first, retry_attempt=2, retry_reason="http_error"
            )
        )
    return copies


async def _slack_round(
    world: SlackWorld, texts: list[str], threads: list[str] | None
) -> tuple[list[str], int]:
    """Delivers each text (a mention, or a follow-up in `threads`); returns the threads."""
    deliveries: list[Delivery] = []
    events = []
    for index, text in enumerate(texts):
        if threads is None:
            event = world.event("app_mention", f"<@{world.slack.bot_user_id}> {text}")
        else:
            event = world.event("message", text, thread_ts=threads[index])
        events.append(event)
        deliveries += _slack_copies(world, event, pair=threads is None)
    sent = await _deliver_all(deliveries, seed=len(texts))
    return [str(e.get("thread_ts") or e["ts"]) for e in events], sent


def _slack_replies(world: SlackWorld, threads: list[str], per_thread: int) -> dict[str, list[str]]:
    """Replies by the text they answer: the n-th reply of a thread answers its n-th message."""
    replies: dict[str, list[str]] = {}
    for index, thread in enumerate(threads):
        shown = [r.markdown_text or "" for r in world.replies(GENERAL, thread)]
        for turn in range(per_thread):
            replies[f"t{index}-{turn}"] = [s for s in shown if s.endswith(f" t{index}-{turn}")]
    return replies


async def _slack_settled(world: SlackWorld, threads: list[str], per_thread: int) -> None:
    """Every copy was acknowledged, so each has been routed; once every thread is answered
    and no turn task runs, no duplicate can still be on its way."""

    def done() -> bool:
        answered = all(
            sum(r.markdown_text != "_Thinking…_" for r in world.replies(GENERAL, t)) >= per_thread
            for t in threads
        )
        return answered and not world.turns.running()

    await wait_until(done, timeout=30, message="every message answered, every turn ended")


async def test_slack_socket_mode_redeliveries_are_answered_once(slack: SlackWorld) -> None:
    slack.openai.default = echo_last_user
    mentions = [f"t{i}-0" for i in range(SLACK_THREADS)]
    threads, sent = await _slack_round(slack, mentions, None)
    await _slack_settled(slack, threads, 1)
    follow_ups = [f"t{i}-1" for i in range(SLACK_THREADS)]
    sent += (await _slack_round(slack, follow_ups, threads))[1]
    await _slack_settled(slack, threads, 2)
    _assert_once(_asked(slack.openai), _slack_replies(slack, threads, 2), mentions + follow_ups)
    # Every delivery reached bolt: each envelope was acknowledged over the socket.
    assert len(slack.slack.acks) == sent == SLACK_THREADS * 8
    print(f"slack socket mode: {sent} deliveries, {len(slack.openai.requests)} model calls")


# Slack over HTTP: X-Slack-Retry-Num / X-Slack-Retry-Reason headers on the same body.


@pytest.fixture
async def http_slack(
    slack_env: None, tmp_path: Path, fake_slack: FakeSlack, fake_openai: FakeOpenAI
) -> AsyncIterator[SlackWorld]:
    config = write_slack_config(tmp_path, fake_slack, fake_openai, mode=HTTP_MODE)
    async with running_slack(config, fake_slack, fake_openai, socket_mode=False) as world:
        yield world


def _http_copies(
    world: SlackWorld, session: aiohttp.ClientSession, event: dict[str, Any], *, pair: bool
) -> list[Delivery]:
    url = f"http://127.0.0.1:{world.bot.http_port}/slack/events"
    first = f"Ev{event['ts']}"

    async def post(payload: dict[str, Any], retry: int = 0) -> None:
        body = json.dumps(payload).encode()
        headers = signed_headers(body, SIGNING_SECRET)
        if retry:
            headers.update({"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "timeout"})
        async with session.post(url, data=body, headers=headers) as response:
            assert response.status == 200

    original = world.slack.event_callback(event, event_id=first)
    renewed = world.slack.event_callback(event, event_id=f"{first}new")
    copies: list[Delivery] = [
        lambda: post(original),
        lambda: post(original, retry=1),
        lambda: post(renewed),
    ]
    if pair:
        message = world.slack.event_callback({**event, "type": "message"}, event_id=f"{first}m")
        copies += [
            lambda: post(original, retry=2),
            lambda: post(original, 3),
            lambda: post(message),
        ]
    return copies


async def _http_round(
    world: SlackWorld, texts: list[str], threads: list[str] | None
) -> tuple[list[str], int]:
    deliveries: list[Delivery] = []
    events = []
    async with aiohttp.ClientSession() as session:
        for index, text in enumerate(texts):
            if threads is None:
                event = world.event("app_mention", f"<@{world.slack.bot_user_id}> {text}")
            else:
                event = world.event("message", text, thread_ts=threads[index])
            events.append(event)
            deliveries += _http_copies(world, session, event, pair=threads is None)
        sent = await _deliver_all(deliveries, seed=len(texts) + 1)
    return [str(e.get("thread_ts") or e["ts"]) for e in events], sent


async def test_slack_http_retries_are_answered_once(http_slack: SlackWorld) -> None:
    world = http_slack
    world.openai.default = echo_last_user
    mentions = [f"t{i}-0" for i in range(HTTP_THREADS)]
    threads, sent = await _http_round(world, mentions, None)
    await _slack_settled(world, threads, 1)
    follow_ups = [f"t{i}-1" for i in range(HTTP_THREADS)]
    sent += (await _http_round(world, follow_ups, threads))[1]
    await _slack_settled(world, threads, 2)
    _assert_once(_asked(world.openai), _slack_replies(world, threads, 2), mentions + follow_ups)
    print(f"slack http: {sent} deliveries, {len(world.openai.requests)} model calls")


# Discord: MESSAGE_CREATE replayed (plainly and across a real RESUME), interactions re-sent.


async def test_discord_replays_and_resent_interactions_are_answered_once(
    discord_world: DiscordWorld,
) -> None:
    world, fake = discord_world, discord_world.discord
    world.openai.default = echo_last_user
    mentions = [f"t{i}-0" for i in range(DISCORD_THREADS)]
    events = [
        fake.message_create(
            fake.channel_id,
            fake.user_id,
            f"<@{fake.bot_user_id}> {text}",
            mentions=[fake.bot_user_id],
        )
        for text in mentions
    ]
    asks = [f"a{i}" for i in range(DISCORD_ASKS)]
    interactions = [fake.interaction_create("ask", options={"prompt": text}) for text in asks]
    deliveries = [_dispatch(fake, "MESSAGE_CREATE", e) for e in events for _ in range(3)]
    deliveries += [_dispatch(fake, "INTERACTION_CREATE", i) for i in interactions * 2]
    half = len(deliveries) // 2
    random.Random(7).shuffle(deliveries)
    await asyncio.gather(*(deliver() for deliver in deliveries[:half]))
    await fake.request_reconnect()  # the rest is held and replayed after the RESUME
    await asyncio.gather(*(deliver() for deliver in deliveries[half:]))
    await wait_until(lambda: fake.resume_count == 1)
    threads = [str(e["id"]) for e in events]
    markers = [await _discord_settled(world, threads, 1, interactions)]
    follow_ups = [f"t{i}-1" for i in range(DISCORD_THREADS)]
    again = [
        fake.message_create(thread, fake.user_id, text)
        for thread, text in zip(threads, follow_ups, strict=True)
    ]
    replays = [_dispatch(fake, "MESSAGE_CREATE", e) for e in again * 3]
    sent = len(deliveries) + await _deliver_all(replays, seed=8)
    markers.append(await _discord_settled(world, threads, 2, interactions))
    replies = {
        text: [m.content for m in fake.posted(thread) if m.content.endswith(f" {text}")]
        for thread, text in [
            *zip(threads, mentions, strict=True),
            *zip(threads, follow_ups, strict=True),
        ]
    }
    for interaction, text in zip(interactions, asks, strict=True):
        answered = fake.interaction(str(interaction["id"]))
        shown = [answered.original.content] if answered.original else []
        replies[text] = shown + [m.content for m in answered.followups]
    _assert_once(_asked(world.openai), replies, mentions + follow_ups + asks)
    # In the channel itself only the /ask answers (their original responses) appear,
    # besides the hints answering the blank mentions that marked each round's end.
    originals = [fake.interaction(str(i["id"])).original for i in interactions]
    hints = [
        m
        for marker in markers
        for m in world.discord.posted(fake.channel_id)
        if m.message_reference and str(m.message_reference["message_id"]) == marker
    ]
    assert len(hints) == len(markers)
    in_channel = {m.id for m in fake.posted(fake.channel_id)} - {m.id for m in hints}
    assert in_channel == {o.id for o in originals if o}
    print(f"discord: {sent} deliveries, {len(world.openai.requests)} model calls")


def _dispatch(fake: FakeDiscord, event: str, data: dict[str, Any]) -> Delivery:
    return lambda: fake.dispatch(event, data)


async def _discord_settled(
    world: DiscordWorld, threads: list[str], per_thread: int, interactions: list[Any]
) -> str:
    """Once every message is answered, a blank mention behind every copy (the gateway keeps
    order) is answered too, and no turn runs: no replay can still be on its way. Returns
    that mention's id."""
    fake = world.discord

    def done() -> bool:
        asked = [fake.interaction(str(i["id"])).original for i in interactions]
        return all(len(fake.posted(t)) >= per_thread for t in threads) and all(
            a is not None and a.content.startswith("echo") for a in asked
        )

    await wait_until(done, timeout=30, message="every message answered")
    return await world.caught_up()
