"""👍/👎 on Slack replies: real bolt and slack_sdk against the fake Slack's block_actions."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import pytest

from core.store.feedback import FeedbackRow
from tests.e2e.slack_env import (
    ALICE,
    BOB,
    GENERAL,
    HTTP_MODE,
    SIGNING_SECRET,
    SlackWorld,
    running_slack,
    slack,
    slack_edits,
    slack_env,
    slack_long_replies,
    write_slack_config,
)
from tests.fakes.openai_server import FakeOpenAI, Script
from tests.fakes.slack_blocks import feedback_buttons, feedback_click
from tests.fakes.slack_server import FakeMessage, FakeSlack, wait_until
from tests.fakes.slack_signing import signed_headers

__all__ = ["slack", "slack_edits", "slack_env", "slack_long_replies"]


async def feedback_rows(world: SlackWorld) -> list[FeedbackRow]:
    now = datetime.now(UTC)
    return await world.runtime.store.feedback.rows(now - timedelta(days=1), now + timedelta(1))


def feedback_buttons_block(message: FakeMessage) -> dict[str, object]:
    """The context_actions block the reply shows its buttons in."""
    blocks = message.blocks or []
    return next(b for b in blocks if b.get("type") == "context_actions")


def reply_id_of(message: FakeMessage) -> int:
    buttons = feedback_buttons(message)
    assert buttons is not None, "the finished reply shows feedback buttons"
    return int(buttons["positive_button"]["value"].partition(":")[2])


async def clicked(world: SlackWorld, reply: FakeMessage, count: int) -> None:
    """Waits until `count` clicks on this reply have been handled to the end."""
    await world.turns.ended(count, f"feedback:slack:{reply_id_of(reply)}")


async def answered(
    world: SlackWorld, text: str = "Forty-two."
) -> tuple[dict[str, str], FakeMessage]:
    world.openai.enqueue(Script(chunks=(text,)))
    event = await world.mention("what is the answer?")
    (reply,) = await world.settled(GENERAL, event["ts"])
    return event, reply


async def test_the_finished_reply_shows_buttons_and_one_rating_per_user(slack: SlackWorld) -> None:
    event, reply = await answered(slack)
    assert reply.markdown_text == "Forty-two."  # the text still shows, as a markdown block
    thread_before = len(slack.slack.thread(GENERAL, event["ts"]))

    first = await slack.slack.click_feedback(GENERAL, reply.ts, ALICE, positive=True)
    await slack.slack.send_interactive(first)  # Slack delivers the same click again
    await slack.slack.click_feedback(GENERAL, reply.ts, ALICE, positive=True)  # clicked twice
    await slack.slack.click_feedback(GENERAL, reply.ts, BOB, positive=True)
    await clicked(slack, reply, 4)
    (row,) = await feedback_rows(slack)
    assert (row.platform, row.bot, row.persona, row.model) == (
        "slack",
        "team",
        "helper",
        "gpt-4o-mini",
    )
    assert (row.up, row.down) == (2, 0)

    await slack.slack.click_feedback(GENERAL, reply.ts, ALICE, positive=False)  # a changed mind
    await slack.slack.send_interactive(first)  # the old 👍 arrives late: it must not undo it
    await clicked(slack, reply, 6)
    (row,) = await feedback_rows(slack)
    assert (row.up, row.down) == (1, 1)
    metrics = slack.runtime.metrics.exposition().decode()
    assert 'parley_feedback_total{persona="helper",rating="up"} 2.0' in metrics
    assert 'parley_feedback_total{persona="helper",rating="down"} 1.0' in metrics

    # Clicks are acknowledged in time and never post into the thread.
    assert slack.slack.violations == []
    assert len(slack.slack.thread(GENERAL, event["ts"])) == thread_before
    assert slack.slack.calls_to("chat.postEphemeral") == []


async def test_a_click_on_a_reply_parley_does_not_know_is_ignored(slack: SlackWorld) -> None:
    _, reply = await answered(slack)
    forged = await slack.slack.click_feedback(GENERAL, reply.ts, ALICE)
    await clicked(slack, reply, 1)
    unknown = reply_id_of(reply) + 1000
    action = dict(forged["actions"][0], value=f"up:{unknown}")
    await slack.slack.send_interactive(dict(forged, actions=[action]))
    await slack.turns.ended(1, f"feedback:slack:{unknown}")
    garbled = dict(forged["actions"][0], value="sideways:abc")
    await slack.slack.send_interactive(dict(forged, actions=[garbled]))
    await slack.caught_up()  # the bot still answers, after all three
    (row,) = await feedback_rows(slack)
    assert (row.up, row.down) == (1, 0)
    assert slack.slack.violations == []


async def test_a_long_reply_shows_buttons_under_its_last_part_only(
    slack_long_replies: SlackWorld,
) -> None:
    world = slack_long_replies
    # More than one Slack message whether edited (3,900 characters) or streamed (10,000).
    long = " ".join(f"word{i}" for i in range(2000))
    world.openai.enqueue(Script(chunks=(long,)))
    event = await world.mention("tell me everything")
    replies = await world.settled(GENERAL, event["ts"], count=2)
    shown = [feedback_buttons(r) is not None for r in replies]
    assert shown[-1] and not any(shown[:-1])


async def test_feedback_false_shows_no_buttons(
    slack_env: None, tmp_path: Path, fake_slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    config = write_slack_config(tmp_path, fake_slack, fake_openai)
    config.write_text(config.read_text().replace("    admins:", "    feedback: false\n    admins:"))
    async with running_slack(config, fake_slack, fake_openai) as world:
        _, reply = await answered(world)
        assert reply.blocks is None
        assert reply.markdown_text == "Forty-two."
        methods = ("chat.postMessage", "chat.update", "chat.startStream", "chat.stopStream")
        sent = [call for method in methods for call in fake_slack.calls_to(method)]
        assert sent and all("blocks" not in call.params for call in sent)


async def test_buttons_ride_on_a_streamed_replys_stop(slack: SlackWorld) -> None:
    slack.slack.reset_calls()
    _, reply = await answered(slack)
    (stop,) = slack.slack.calls_to("chat.stopStream")
    assert stop.params["blocks"] == [feedback_buttons_block(reply)]
    assert slack.slack.calls_to("chat.update") == []  # no call for the buttons alone


async def test_buttons_cost_one_edit_of_a_short_edited_reply(slack_edits: SlackWorld) -> None:
    slack = slack_edits
    slack.slack.reset_calls()
    await answered(slack)
    assert len(slack.slack.calls_to("chat.postMessage")) == 1
    assert len(slack.slack.calls_to("chat.update")) == 1


async def post_signed(world: SlackWorld, body: bytes, content_type: str) -> None:
    headers = {**signed_headers(body, SIGNING_SECRET), "Content-Type": content_type}
    url = f"http://127.0.0.1:{world.bot.http_port}/slack/events"
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body, headers=headers) as response,
    ):
        assert response.status == 200


async def test_a_click_over_http_mode_is_acked_and_stored(
    slack_env: None, tmp_path: Path, fake_slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    config = write_slack_config(tmp_path, fake_slack, fake_openai, mode=HTTP_MODE)
    async with running_slack(config, fake_slack, fake_openai, socket_mode=False) as world:
        fake_openai.enqueue(Script(chunks=("Forty-two.",)))
        event = world.event("app_mention", f"<@{fake_slack.bot_user_id}> what is the answer?")
        callback = json.dumps(fake_slack.event_callback(event)).encode()
        await post_signed(world, callback, "application/json")
        (reply,) = await world.settled(GENERAL, event["ts"])
        payload = feedback_click(fake_slack.identity, reply, BOB, positive=False)
        # Slack posts interactions form-encoded (payload=<JSON>), signed like events.
        form = urlencode({"payload": json.dumps(payload)}).encode()
        await post_signed(world, form, "application/x-www-form-urlencoded")
        await clicked(world, reply, 1)
        (row,) = await feedback_rows(world)
        assert (row.up, row.down) == (0, 1)


async def test_a_click_with_an_id_no_database_holds_is_ignored_in_one_line(
    slack: SlackWorld, caplog: pytest.LogCaptureFixture
) -> None:
    # A misbehaving Slack (or a forged payload) names a reply id past SQLite's integers.
    _, reply = await answered(slack)
    forged = await slack.slack.click_feedback(GENERAL, reply.ts, ALICE)
    await clicked(slack, reply, 1)
    huge = 2**64
    action = dict(forged["actions"][0], value=f"down:{huge}")
    await slack.slack.send_interactive(dict(forged, actions=[action]))
    # And a click from the year 10^290: no date Python holds.
    action = dict(forged["actions"][0], value="down:1", action_ts="1e300")
    await slack.slack.send_interactive(dict(forged, actions=[action]))
    await wait_until(
        lambda: sum("never set" in r.getMessage() for r in caplog.records) == 2,
        message="both forged clicks were turned away",
    )
    await slack.slack.click_feedback(GENERAL, reply.ts, BOB)
    await clicked(slack, reply, 2)
    (row,) = await feedback_rows(slack)
    assert (row.up, row.down) == (2, 0)
    assert [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR] == []
