"""Parley in Slack end to end: real bolt and slack_sdk, fake Slack and fake model on loopback."""

from __future__ import annotations

import asyncio

from tests.e2e.slack_env import (
    BOB,
    DM,
    GENERAL,
    PIRATES,
    SlackWorld,
    slack,
    slack_assistant_pane,
    slack_edits,
    slack_env,
    slack_long_replies,
)
from tests.fakes.openai_server import Script, echo_last_user
from tests.fakes.slack_server import wait_until

__all__ = ["slack", "slack_assistant_pane", "slack_edits", "slack_env", "slack_long_replies"]


async def test_a_mention_is_answered_in_its_thread_streaming(slack: SlackWorld) -> None:
    slack.openai.enqueue(
        Script(chunks=("Hello ", "Alice, ", "how can I help?"), delay_between_chunks=0.1)
    )
    event = await slack.mention("hi there")
    replies = await slack.settled(GENERAL, event["ts"])
    assert [r.markdown_text for r in replies] == ["Hello Alice, how can I help?"]
    assert replies[0].thread_ts == event["ts"]
    system = slack.sent()[0]["content"]
    assert system == "You are team in Acme, #general, with Alice."


async def test_a_follow_up_without_mention_remembers_and_reads_nothing(slack: SlackWorld) -> None:
    slack.openai.default = echo_last_user
    first = await slack.mention("my name is Alice")
    await slack.settled(GENERAL, first["ts"])
    slack.slack.reset_calls()
    await slack.say("what is my name?", thread_ts=first["ts"])
    replies = await slack.settled(GENERAL, first["ts"], count=2)
    assert replies[-1].markdown_text == "echo: [Alice] what is my name?"
    sent = [m["content"] for m in slack.sent()]
    assert sent[1:] == [
        "[Alice] my name is Alice",
        "echo: [Alice] my name is Alice",
        "[Alice] what is my name?",
    ]
    methods = [call.method for call in slack.slack.calls]
    # A follow-up turn: one post and its final edit; no history reads, no name lookups.
    assert "conversations.replies" not in methods and "users.info" not in methods
    assert len(methods) <= 6, methods


async def test_two_people_in_one_thread_are_told_apart(slack: SlackWorld) -> None:
    slack.openai.default = echo_last_user
    root = await slack.mention("I think we should ship on Friday")
    await slack.settled(GENERAL, root["ts"])
    await slack.say("I disagree, Monday is safer", user=BOB, thread_ts=root["ts"])
    await slack.settled(GENERAL, root["ts"], count=2)
    users = slack.sent_users()
    assert users == [
        "[Alice] I think we should ship on Friday",
        "[Bob] I disagree, Monday is safer",
    ]


async def test_a_mention_arriving_also_as_a_message_event_is_answered_once(
    slack: SlackWorld,
) -> None:
    event = slack.event("app_mention", f"<@{slack.slack.bot_user_id}> hello", thread_ts=None)
    await slack.slack.send_event(event)
    # Slack also delivers the same message as message.channels.
    await slack.slack.send_event({**event, "type": "message"})
    await slack.settled(GENERAL, event["ts"])
    await slack.caught_up()  # the message event, had it been taken, would have ended by now
    assert len(slack.replies(GENERAL, event["ts"])) == 1
    assert len(slack.openai.requests) == 1


async def test_retries_and_re_sent_events_get_one_reply(slack: SlackWorld) -> None:
    event = slack.event("app_mention", f"<@{slack.slack.bot_user_id}> once please")
    await slack.slack.send_event(event, event_id="Ev1")
    await slack.settled(GENERAL, event["ts"])
    await slack.slack.send_event(event, event_id="Ev1", retry_attempt=1, retry_reason="timeout")
    await slack.slack.send_event(event, event_id="Ev2")  # same message, new event id
    await slack.caught_up()
    assert len(slack.replies(GENERAL, event["ts"])) == 1
    assert len(slack.openai.requests) == 1


async def test_on_the_assistant_pane_a_dms_top_level_is_one_conversation(
    slack_assistant_pane: SlackWorld,
) -> None:
    slack = slack_assistant_pane
    slack.openai.default = echo_last_user
    await slack.say("hello there", channel=DM)
    await wait_until(
        lambda: (
            len(slack.slack.posted(DM)) == 1
            and "echo" in (slack.slack.posted(DM)[0].markdown_text or "")
        )
    )
    await slack.say("and again", channel=DM)
    await wait_until(
        lambda: (
            len(slack.slack.posted(DM)) == 2
            and "again" in (slack.slack.posted(DM)[1].markdown_text or "")
        )
    )
    posted = slack.slack.posted(DM)
    assert [m.thread_ts for m in posted] == [None, None]
    users = slack.sent_users()
    assert users == ["[Alice] hello there", "[Alice] and again"]


async def test_a_long_reply_is_split_without_breaking_code_blocks(
    slack_long_replies: SlackWorld,
) -> None:
    slack = slack_long_replies
    block = "```python\n" + "".join(f"print('line {n}')\n" for n in range(150)) + "```\n"
    prose = "Here is a paragraph of explanation that goes on for a while. " * 12 + "\n\n"
    reply = (prose + block) * 8
    assert len(reply) > 2 * slack.message_limit
    slack.openai.enqueue(
        Script(chunks=tuple(reply[i : i + 500] for i in range(0, len(reply), 500)))
    )
    event = await slack.mention("show me the code")
    replies = await slack.settled(GENERAL, event["ts"], count=3)
    texts = [r.markdown_text or "" for r in replies]
    assert len(texts) >= 3 and all(len(text) <= slack.message_limit for text in texts)
    for text in texts:
        fences = [line for line in text.splitlines() if line.startswith("```")]
        assert len(fences) % 2 == 0, text[-200:]
    joined = "\n".join(texts)
    assert all(f"print('line {n}')" in joined for n in range(150))


async def test_a_model_rate_limit_becomes_one_short_message(slack: SlackWorld) -> None:
    slack.openai.default = Script(status=429, headers={"Retry-After": "0.05"})
    event = await slack.mention("are you there?")
    replies = await slack.settled(GENERAL, event["ts"])
    # Settled: the turn's task has ended, so nothing more can come from it.
    assert len(replies) == 1
    assert "rate-limited" in (replies[0].markdown_text or "")
    slack.openai.default = Script()
    again = await slack.mention("now?")
    assert (await slack.settled(GENERAL, again["ts"]))[0].markdown_text == "Hello world"


async def test_channel_and_workspace_overrides_choose_the_persona(slack: SlackWorld) -> None:
    event = await slack.mention("ahoy", channel=PIRATES)
    await slack.settled(PIRATES, event["ts"])
    request = slack.openai.requests[-1]
    assert request["model"] == "gpt-4o"
    assert slack.sent()[0]["content"] == "Talk like a pirate."


async def test_a_slow_model_shows_a_placeholder_that_becomes_the_answer(
    slack_edits: SlackWorld,
) -> None:
    slack = slack_edits
    # The model says nothing until the placeholder has shown.
    release = asyncio.Event()
    slack.openai.enqueue(Script(chunks=("Sorry for the wait.",), release=release))
    event = await slack.mention("take your time")
    await wait_until(lambda: bool(slack.replies(GENERAL, event["ts"])))
    assert slack.replies(GENERAL, event["ts"])[0].markdown_text == "_Thinking…_"
    release.set()
    replies = await slack.settled(GENERAL, event["ts"])
    assert [r.markdown_text for r in replies] == ["Sorry for the wait."]


async def test_a_slow_model_shows_a_status_while_a_native_stream_waits(slack: SlackWorld) -> None:
    # Streamed text only grows, so no placeholder: Slack's "is thinking…" status instead.
    release = asyncio.Event()
    slack.openai.enqueue(Script(chunks=("Sorry for the wait.",), release=release))
    event = await slack.mention("take your time")
    await wait_until(lambda: bool(slack.slack.calls_to("assistant.threads.setStatus")))
    (status,) = slack.slack.calls_to("assistant.threads.setStatus")
    assert status.params["thread_ts"] == event["ts"] and status.params["status"] == "is thinking…"
    assert slack.replies(GENERAL, event["ts"]) == []
    release.set()
    replies = await slack.settled(GENERAL, event["ts"])
    assert [r.markdown_text for r in replies] == ["Sorry for the wait."]
    assert [c.params["markdown_text"] for c in slack.slack.calls_to("chat.startStream")] == [
        "Sorry for the wait."
    ]


async def test_a_fast_model_skips_the_placeholder(slack_edits: SlackWorld) -> None:
    slack = slack_edits
    rest = asyncio.Event()
    slack.openai.enqueue(Script(chunks=("Hello", " world"), release_chunks=(rest,)))
    event = await slack.mention("quick one")
    await wait_until(lambda: bool(slack.slack.calls_to("chat.postMessage")))
    rest.set()  # " world" is sent only once "Hello" is posted
    replies = await slack.settled(GENERAL, event["ts"])
    posts = [call.params.get("markdown_text") for call in slack.slack.calls_to("chat.postMessage")]
    assert posts == ["Hello"]  # the first words, posted at once (no placeholder); then edited
    assert [r.markdown_text for r in replies] == ["Hello world"]


async def test_a_fast_model_starts_its_stream_with_the_first_words(slack: SlackWorld) -> None:
    event = await slack.mention("quick one")
    replies = await slack.settled(GENERAL, event["ts"])
    starts = [call.params.get("markdown_text") for call in slack.slack.calls_to("chat.startStream")]
    assert starts in (["Hello"], ["Hello world"])
    assert slack.slack.calls_to("assistant.threads.setStatus") == []
    assert slack.slack.calls_to("chat.postMessage") == []
    assert [r.markdown_text for r in replies] == ["Hello world"]


async def test_other_bots_and_edits_in_a_thread_are_not_answered(slack: SlackWorld) -> None:
    root = await slack.mention("start a thread")
    await slack.settled(GENERAL, root["ts"])
    await slack.say("beep, I am a bot", user="U0OTHERBOT", bot_id="B0OTHER", thread_ts=root["ts"])
    edited = {"type": "message", "text": "changed", "ts": "1700009999.000100"}
    await slack.say("", subtype="message_changed", message=edited, thread_ts=root["ts"])
    await slack.say("", subtype="message_deleted", deleted_ts=root["ts"], thread_ts=root["ts"])
    await slack.caught_up()
    assert len(slack.openai.requests) == 1
    assert len(slack.replies(GENERAL, root["ts"])) == 1
