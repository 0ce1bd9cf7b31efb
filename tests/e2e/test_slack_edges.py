"""Parley in Slack at the edges: HTTP signing, restarts, seeding, files, access, faults."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from core.types import ConversationKey
from tests.e2e.slack_env import (
    ADMIN,
    ALICE,
    BOB,
    DM,
    GENERAL,
    HTTP_MODE,
    PIRATES,
    SIGNING_SECRET,
    SlackIn,
    SlackWorld,
    running_slack,
    slack,
    slack_assistant_pane,
    slack_env,
    slack_in,
    write_slack_config,
)
from tests.fakes.openai_server import FakeOpenAI, Script, echo_last_user
from tests.fakes.slack_server import FakeSlack, wait_until
from tests.fakes.slack_signing import signed_headers
from tests.fakes.waiting import deadline

__all__ = ["slack", "slack_assistant_pane", "slack_env", "slack_in"]

Headers = dict[str, str]


# HTTP mode: bolt verifies Slack's signature before anything reaches Parley.


@pytest.fixture
async def http_slack(
    slack_env: None, tmp_path: Path, fake_slack: FakeSlack, fake_openai: FakeOpenAI
) -> AsyncIterator[SlackWorld]:
    config = write_slack_config(tmp_path, fake_slack, fake_openai, mode=HTTP_MODE)
    async with running_slack(config, fake_slack, fake_openai, socket_mode=False) as world:
        yield world


def _signed(payload: dict[str, Any], **sign: Any) -> tuple[bytes, Headers]:
    """Signed now; `age` seconds (negative: in the future) moves the signed timestamp."""
    body = json.dumps(payload).encode()
    if "age" in sign:
        sign["timestamp"] = int(time.time()) - sign.pop("age")
    return body, signed_headers(body, sign.pop("secret", SIGNING_SECRET), **sign)


async def _post(world: SlackWorld, body: bytes, headers: Headers) -> tuple[int, str]:
    """POSTs to the bot's events URL; returns the status and the body."""
    url = f"http://127.0.0.1:{world.bot.http_port}/slack/events"
    async with (
        deadline(30, "the events URL answered"),
        aiohttp.ClientSession() as session,
        session.post(url, data=body, headers=headers) as response,
    ):
        return response.status, await response.text()


async def test_http_a_signed_event_is_acked_at_once_and_answered(http_slack: SlackWorld) -> None:
    release = asyncio.Event()
    http_slack.openai.enqueue(Script(chunks=("Signed ", "and sealed"), release=release))
    event = http_slack.event("app_mention", "<@UBOT> hello over http")
    status, _ = await _post(http_slack, *_signed(http_slack.slack.event_callback(event)))
    # Acked while the model is held back: bolt acks first, Parley thinks afterwards.
    assert status == 200
    assert http_slack.replies(GENERAL, event["ts"]) == []
    release.set()
    replies = await http_slack.settled(GENERAL, event["ts"])
    assert [r.markdown_text for r in replies] == ["Signed and sealed"]


def _tamper(body: bytes, headers: Headers, how: str) -> tuple[bytes, Headers]:
    """A signed request changed the way an attacker (or a broken proxy) would."""
    if how == "unsigned":
        return body, {"Content-Type": "application/json"}
    if how in ("no_signature", "no_timestamp"):
        drop = "X-Slack-Signature" if how == "no_signature" else "X-Slack-Request-Timestamp"
        return body, {k: v for k, v in headers.items() if k != drop}
    if how == "body_swapped":  # a valid signature over another body
        return body.replace(b"let me in", b"let me out"), headers
    if how == "garbled_signature":
        return body, {**headers, "X-Slack-Signature": "v0=not-hex"}
    if how == "garbled_timestamp":
        return body, {**headers, "X-Slack-Request-Timestamp": "yesterday"}
    if how == "not_utf8":
        return body + b"\xff\xfe", headers
    return body, headers  # signed with the wrong secret or at the wrong time


@pytest.mark.parametrize(
    "sign,how",
    [
        ({"secret": "not-the-signing-secret"}, "forged"),
        ({"age": 301}, "stale"),  # seconds before the request is sent, not before collection
        ({"age": -600}, "from_the_future"),
        ({}, "unsigned"),
        ({}, "no_signature"),
        ({}, "no_timestamp"),
        ({}, "body_swapped"),
        ({}, "garbled_signature"),
        ({}, "garbled_timestamp"),
        ({}, "not_utf8"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
async def test_http_an_unverified_request_is_refused_unread(
    http_slack: SlackWorld, sign: dict[str, Any], how: str
) -> None:
    event = http_slack.event("app_mention", "<@UBOT> let me in")
    body, headers = _tamper(*_signed(http_slack.slack.event_callback(event), **sign), how)
    http_slack.slack.reset_calls()
    status, _ = await _post(http_slack, body, headers)
    # Bolt refuses before it dispatches: a 401 means no listener was started, so nothing
    # can come of this request later.
    assert status == 401
    assert http_slack.openai.requests == []
    assert http_slack.slack.calls == []  # no handler ran: not even a user lookup
    assert http_slack.replies(GENERAL, event["ts"]) == []


async def test_http_a_replay_after_five_minutes_is_refused(http_slack: SlackWorld) -> None:
    """A captured request re-sent later: its signed timestamp gives it away."""
    event = http_slack.event("app_mention", "<@UBOT> once, long ago")
    body, headers = _signed(http_slack.slack.event_callback(event), age=6 * 60)
    for _ in range(3):
        assert (await _post(http_slack, body, headers))[0] == 401  # refused before dispatch
    assert http_slack.openai.requests == []
    assert http_slack.slack.posted(GENERAL) == []


async def test_http_a_replayed_request_is_acked_but_answered_once(http_slack: SlackWorld) -> None:
    event = http_slack.event("app_mention", "<@UBOT> only once")
    body, headers = _signed(http_slack.slack.event_callback(event))
    assert (await _post(http_slack, body, headers))[0] == 200
    await http_slack.settled(GENERAL, event["ts"])
    assert (await _post(http_slack, body, headers))[0] == 200
    await http_slack.turns.ended(2, http_slack.key(GENERAL, event["ts"]))  # the replay's too
    assert len(http_slack.replies(GENERAL, event["ts"])) == 1
    assert len(http_slack.openai.requests) == 1


async def test_http_url_verification_echoes_the_challenge(http_slack: SlackWorld) -> None:
    payload = {"token": "fake-verification-token", "challenge": "abc", "type": "url_verification"}
    status, text = await _post(http_slack, *_signed(payload))
    assert status == 200
    assert json.loads(text) == {"challenge": "abc"}
    assert http_slack.openai.requests == []


# Redelivery across a restart: the claim lives in SQLite, not in memory.


async def test_a_redelivery_after_a_restart_is_not_answered_again(
    slack_env: None, tmp_path: Path, fake_slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    config = write_slack_config(tmp_path, fake_slack, fake_openai)
    async with running_slack(config, fake_slack, fake_openai) as world:
        event = world.event("app_mention", "<@UBOT> answer me once")
        await fake_slack.send_event(event, event_id="Ev0RESTART")
        await world.settled(GENERAL, event["ts"])
    async with running_slack(config, fake_slack, fake_openai) as world:
        await wait_until(lambda: fake_slack.connections == 2)
        await fake_slack.send_event(
            event, event_id="Ev0RESTART", retry_attempt=1, retry_reason="timeout"
        )
        await fake_slack.send_event(event, event_id="Ev0RESENT")
        await world.turns.ended(2, world.key(GENERAL, event["ts"]))  # both looked at
        assert len(world.replies(GENERAL, event["ts"])) == 1
        assert len(fake_openai.requests) == 1


# Joining a thread late: it is read once from Slack, then remembered.


async def test_a_thread_joined_late_is_read_once_then_remembered(slack: SlackWorld) -> None:
    fake = slack.slack
    slack.openai.default = echo_last_user
    root = fake.next_ts()
    fake.add_message(GENERAL, root, BOB, "Should we move the launch?")
    fake.add_message(GENERAL, fake.next_ts(), ALICE, "Maybe to Tuesday", thread_ts=root)
    fake.add_message(GENERAL, fake.next_ts(), BOB, "Tuesday works for me", thread_ts=root)
    await slack.mention("what did we decide?", thread_ts=root, ts=fake.next_ts())
    await slack.settled(GENERAL, root)
    assert len(fake.calls_to("conversations.replies")) == 1
    assert slack.sent_users() == [
        "[Bob] Should we move the launch?",
        "[Alice] Maybe to Tuesday",
        "[Bob] Tuesday works for me",
        "[Alice] what did we decide?",
    ]
    await slack.say("and who agreed?", thread_ts=root, ts=fake.next_ts())
    replies = await slack.settled(GENERAL, root, count=2)
    assert replies[-1].markdown_text == "echo: [Alice] and who agreed?"
    assert len(fake.calls_to("conversations.replies")) == 1
    assert slack.sent_users()[0] == "[Bob] Should we move the launch?"
    assert slack.sent_users()[-1] == "[Alice] and who agreed?"


# Shared files.


async def test_a_shared_text_file_is_downloaded_with_the_token_and_read(
    slack: SlackWorld,
) -> None:
    fake = slack.slack
    file = fake.add_file("F0NOTES", "notes.txt", "text/plain", b"Budget: 42 apples")
    event = await slack.mention("what is in my notes?", files=[file])
    replies = await slack.settled(GENERAL, event["ts"])
    assert replies[0].markdown_text == "Hello world"
    assert [(d.file_id, d.token, d.status) for d in fake.downloads] == [
        ("F0NOTES", fake.bot_token, 200)
    ]
    last = slack.sent_users()[-1]
    assert last.startswith("[Alice] what is in my notes?")
    assert "[attached file: notes.txt]" in last and "Budget: 42 apples" in last


async def test_a_file_over_the_limit_is_not_downloaded_and_named_in_the_reply(
    slack_env: None, tmp_path: Path, fake_slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    extra = "limits:\n  file_bytes: 100"
    config = write_slack_config(tmp_path, fake_slack, fake_openai, extra=extra)
    async with running_slack(config, fake_slack, fake_openai) as world:
        file = fake_slack.add_file("F0BIG", "big.log", "text/plain", b"x" * 500)
        event = await world.mention("read this log", files=[file])
        replies = await world.settled(GENERAL, event["ts"])
    assert fake_slack.downloads == []
    text = replies[-1].markdown_text or ""
    assert text.startswith("Hello world")
    assert text.endswith("not read: big.log)_"), text
    assert "[attached file not read: big.log" in world.sent_users()[-1]


# Access lists.


async def test_a_user_outside_allowed_users_is_refused_without_a_model_call(
    slack_env: None, tmp_path: Path, fake_slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    config = write_slack_config(tmp_path, fake_slack, fake_openai)
    admins = "    admins: [U0ADMIN]\n"
    text = config.read_text()
    assert admins in text
    access = "    allowed_users: [U0ALICE]\n    on_denied: refuse\n"
    config.write_text(text.replace(admins, admins + access))
    async with running_slack(config, fake_slack, fake_openai) as world:
        denied = await world.mention("let me in", user=BOB)
        refusal = await _replied(world, GENERAL, denied["ts"], 1)
        assert "not available to you" in refusal
        assert fake_openai.requests == []
        # Slack delivers it again (a retry, or a new event id): it is not refused twice.
        await fake_slack.send_event(denied)
        allowed = await world.mention("and me?")
        await world.settled(GENERAL, allowed["ts"])
        assert len(world.replies(GENERAL, denied["ts"])) == 1
        answer = await world.settled(GENERAL, allowed["ts"])
        assert answer[0].markdown_text == "Hello world"
        assert len(fake_openai.requests) == 1


# Commands: reset and persona.


async def _replied(world: SlackWorld, channel: str, thread: str, count: int) -> str:
    """The text of the `count`th reply in a thread, once it is there and its turn task has
    ended (commands store no reply row for settled() to read)."""
    key = world.key(channel, thread)
    await wait_until(
        lambda: len(world.replies(channel, thread)) >= count and not world.turns.running(key)
    )
    return world.replies(channel, thread)[count - 1].markdown_text or ""


async def _command(world: SlackWorld, text: str, thread: str, count: int, **fields: Any) -> str:
    await world.mention(text, thread_ts=thread, **fields)
    return await _replied(world, GENERAL, thread, count)


async def _talk(world: SlackWorld, text: str, thread: str, count: int, **fields: Any) -> str:
    await world.mention(text, thread_ts=thread, **fields)
    replies = await world.settled(GENERAL, thread, count=count)
    return replies[-1].markdown_text or ""


async def test_an_outsider_cannot_reset_a_thread(slack: SlackWorld) -> None:
    slack.openai.default = echo_last_user
    root = await slack.mention("the code word is tangerine")
    thread = root["ts"]
    await slack.settled(GENERAL, thread)
    refused = await _command(slack, "reset", thread, 2, user=BOB)
    assert refused.startswith("Only the people in this thread")
    await _talk(slack, "what is the code word?", thread, 3)
    assert slack.sent_users() == [
        "[Alice] the code word is tangerine",
        "[Alice] what is the code word?",
    ]


async def test_a_participant_reset_forgets_the_thread(slack: SlackWorld) -> None:
    slack.openai.default = echo_last_user
    root = await slack.mention("the code word is tangerine")
    thread = root["ts"]
    await slack.settled(GENERAL, thread)
    done = await _command(slack, "reset", thread, 2)
    assert "forgotten this thread (2 messages)" in done
    calls = len(slack.openai.requests)
    await _talk(slack, "what is the code word?", thread, 3)
    assert len(slack.openai.requests) == calls + 1
    assert [m["role"] for m in slack.sent()] == ["system", "user"]
    assert slack.sent_users() == ["[Alice] what is the code word?"]


async def test_an_admin_resets_any_thread_and_persona_needs_no_model(slack: SlackWorld) -> None:
    root = await slack.mention("something to forget")
    thread = root["ts"]
    await slack.settled(GENERAL, thread)
    done = await _command(slack, "reset", thread, 2, user=ADMIN)
    assert "forgotten this thread (2 messages)" in done
    calls = len(slack.openai.requests)
    asked = await slack.mention("persona", channel=PIRATES)
    persona = await _replied(slack, PIRATES, asked["ts"], 1)
    assert persona == "Here I'm **pirate**, answering with `gpt-4o`."
    assert len(slack.openai.requests) == calls


# Slack-side faults.


async def _shows(world: SlackWorld, channel: str, thread: str, texts: list[str]) -> None:
    """Waits until the thread's replies read exactly `texts` (a final edit may be retrying)."""

    def shown() -> bool:
        return [r.markdown_text for r in world.replies(channel, thread)] == texts

    await wait_until(shown, message=f"the thread shows {texts}")


@pytest.mark.parametrize(
    ("streaming", "method"), [("edits", "chat.update"), ("native", "chat.stopStream")]
)
async def test_a_rate_limited_edit_is_retried_and_the_reply_completes(
    slack_in: SlackIn, streaming: str, method: str
) -> None:
    async with slack_in(streaming) as slack:
        chunks = ("One, ", "two, ", "three, ", "four, ", "five.")
        slack.openai.enqueue(Script(chunks=chunks, delay_between_chunks=0.2))
        slack.slack.fail_next(method, status=429, retry_after=1)
        event = await slack.mention("count to five")
        await slack.settled(GENERAL, event["ts"])
        # Settled means the turn's task has ended: what shows now stays.
        assert [r.markdown_text for r in slack.replies(GENERAL, event["ts"])] == ["".join(chunks)]
        updates = slack.slack.calls_to(method)
        assert len(updates) >= 2
        assert updates[1].at - updates[0].at >= 0.9, "slack_sdk honours Retry-After"


# Where Slack refuses the bot, it refuses a stream and a post alike.
FIRST_POSTS = {"edits": ("chat.postMessage",), "native": ("chat.startStream", "chat.postMessage")}


@pytest.mark.parametrize("streaming", ["edits", "native"])
async def test_not_in_channel_is_one_error_line_naming_the_fix(
    slack_in: SlackIn, streaming: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with slack_in(streaming) as slack:
        for method in FIRST_POSTS[streaming]:
            slack.slack.fail_next(method, error="not_in_channel", times=5)
        lost = await slack.mention("can you hear me?")
        await slack.turns.ended(1, slack.key(GENERAL, lost["ts"]))  # all it tried, it has tried
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1, [r.getMessage() for r in errors]
        line = errors[0].getMessage()
        assert "not_in_channel" in line and "invite the bot" in line


@pytest.mark.parametrize("streaming", ["edits", "native"])
async def test_once_the_bot_is_invited_the_next_mention_is_answered(
    slack_in: SlackIn, streaming: str
) -> None:
    async with slack_in(streaming) as slack:
        fake = slack.slack
        for method in FIRST_POSTS[streaming]:
            fake.fail_next(method, error="not_in_channel", times=5)
        lost = await slack.mention("can you hear me?")
        await slack.turns.ended(1, slack.key(GENERAL, lost["ts"]))
        assert slack.replies(GENERAL, lost["ts"]) == []
        fake.reset_faults()  # the admin invited the bot
        again = await slack.mention("and now?")
        replies = await slack.settled(GENERAL, again["ts"])
        assert [r.markdown_text for r in replies] == ["Hello world"]


# Slack's assistant pane.


async def test_the_assistant_pane_offers_prompts_and_shows_status(
    slack_assistant_pane: SlackWorld,
) -> None:
    slack = slack_assistant_pane
    fake = slack.slack
    # Silent long enough that an ordinary thread would get a "Thinking…" placeholder.
    slack.openai.enqueue(Script(delay_before_first_chunk=1.0))
    thread = slack.next_ts()
    started = {
        "type": "assistant_thread_started",
        "assistant_thread": {
            "user_id": ALICE,
            "channel_id": DM,
            "thread_ts": thread,
            "context": {},
        },
        "event_ts": thread,
    }
    await fake.send_event(started)
    await wait_until(lambda: bool(fake.calls_to("assistant.threads.setSuggestedPrompts")))
    offer = fake.calls_to("assistant.threads.setSuggestedPrompts")[0].params
    assert (offer["channel_id"], offer["thread_ts"]) == (DM, thread)
    assert [p["title"] for p in offer["prompts"]] == ["Summarize"]
    await slack.say("Summarize this thread for me", channel=DM, thread_ts=thread)
    replies = await slack.settled(DM, thread)
    assert replies[0].markdown_text == "Hello world" and replies[0].thread_ts == thread
    status = fake.calls_to("assistant.threads.setStatus")
    assert [(c.params["thread_ts"], c.params["status"]) for c in status] == [
        (thread, "is thinking…")
    ]
    titles = [c.params["title"] for c in fake.calls_to("assistant.threads.setTitle")]
    assert titles == ["Summarize this thread for me"]
    posts = [c.params.get("markdown_text") for c in fake.calls_to("chat.postMessage")]
    assert "_Thinking…_" not in posts


# Socket Mode.


async def test_a_socket_reconnect_mid_reply_does_not_cut_or_repeat_it(slack: SlackWorld) -> None:
    chunks = ("Slow ", "and ", "steady ", "wins.")
    slack.openai.enqueue(Script(chunks=chunks, delay_between_chunks=0.3))
    event = await slack.mention("tell me slowly")
    await wait_until(lambda: len(slack.openai.requests) == 1)
    await slack.slack.disconnect_client()
    # Slack re-sends, on the new socket, an event whose ack it may have missed.
    await slack.slack.send_event(event, retry_attempt=1, retry_reason="timeout")
    await _shows(slack, GENERAL, event["ts"], ["".join(chunks)])
    # Shown is not yet stored: the reply's row is written after its last words went out.
    await slack.settled(GENERAL, event["ts"])
    await wait_until(lambda: slack.slack.connections == 2)
    key = ConversationKey("slack", slack.slack.team_id, GENERAL, event["ts"])
    stored = (await slack.runtime.store.recent_messages(key, 5)).messages
    assert [(m.role, m.status) for m in stored] == [("user", "complete"), ("assistant", "complete")]
    assert stored[-1].content == "".join(chunks)
    again = await slack.mention("still there?")
    answer = await slack.settled(GENERAL, again["ts"])
    assert [r.markdown_text for r in answer] == ["Hello world"]
    assert [r.markdown_text for r in slack.replies(GENERAL, event["ts"])] == ["".join(chunks)]
    assert len(slack.openai.requests) == 2
