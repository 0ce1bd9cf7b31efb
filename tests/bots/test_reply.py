"""The shared streaming reply against a fake platform: what shows, when, and what failures do."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

import aiohttp
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bots.reply import DeliveryError, StreamedReply
from bots.reply.binding import Show
from bots.slack.reply import WORKSPACE_EDITS, SlackReplyBinding, workspace_edit_budget
from bots.throttle import ChannelThrottle
from core.errors import ModelTimeout, ShutDown
from core.types import TurnSummary
from tests.bots.reply_fakes import FakePlatform, FakeTime, Refused


@pytest.fixture
def time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def platform(time: FakeTime) -> FakePlatform:
    return FakePlatform(time)


async def test_blank_text_is_never_posted(platform: FakePlatform) -> None:
    reply = StreamedReply(platform)
    await reply.start()
    for blank in (" ", "\n\n", "\t"):
        await reply.append(blank)
    assert platform.calls == [] and reply.shown == ""
    await reply.finish(TurnSummary())
    assert platform.calls == [("post", 0, "(no answer)")]
    assert reply.shown == "(no answer)"


async def test_first_words_post_at_once_and_later_ones_wait_for_one_edit(
    platform: FakePlatform, time: FakeTime
) -> None:
    reply = StreamedReply(platform)
    await reply.start()
    await reply.append("Hello")
    await platform.wait_for(lambda: len(platform.calls) == 1)
    assert platform.calls == [("post", 0, "Hello")] and time.slept == []
    time.gate.clear()  # the edit's wait holds until the test lets it go
    await reply.append(" wor")
    await time.wait_sleeps(1)
    await reply.append("ld")
    assert time.slept == [1.0]  # one edit waiting, whatever arrives meanwhile
    time.gate.set()
    await platform.wait_for(lambda: len(platform.calls) == 2)
    assert platform.calls[1] == ("edit", 0, "Hello world")
    assert reply.shown == "Hello world"
    await reply.finish(TurnSummary())
    assert len(platform.calls) == 2  # already shown in full: no final edit


async def test_a_long_reply_splits_and_only_changed_parts_are_edited(
    platform: FakePlatform,
) -> None:
    reply = StreamedReply(platform)
    await reply.start()
    await reply.append("aaaa bbbb cccc dddd eeee")
    await platform.wait_for(lambda: len(platform.calls) == 2)
    assert platform.calls == [("post", 0, "aaaa bbbb cccc dddd"), ("post", 1, "eeee")]
    assert platform.linked == [0, 1]
    await reply.append(" ffff")
    await reply.finish(TurnSummary(input_truncated=True))
    # Part one never changed, so it is never edited again.
    assert all(index != 0 for kind, index, _ in platform.calls[2:])
    assert platform.calls[2] == ("edit", 1, "eeee ffff")
    assert platform.messages[0] == "aaaa bbbb cccc dddd"
    assert "".join(platform.messages[1:]).startswith("eeee ffff")
    assert reply.shown == "".join(platform.messages)


async def test_the_final_edit_is_tried_again_on_the_platforms_trouble(
    platform: FakePlatform, time: FakeTime
) -> None:
    reply = StreamedReply(platform)
    await reply.start()
    await reply.append("Rain")
    await platform.wait_for(lambda: len(platform.calls) == 1)
    platform.faults.extend([Refused("503", transient=True), Refused("502", transient=True)])
    await reply.append(" later")
    await reply.finish(TurnSummary())
    assert platform.messages == ["Rain later"]
    # The queued streaming edit was superseded; the final one went three times.
    assert [c for c in platform.calls if c[0] == "edit"] == [("edit", 0, "Rain later")] * 3
    assert time.slept == [0.5, 1.5]


async def test_a_refusal_is_not_tried_again_and_is_logged_once(
    platform: FakePlatform, caplog: pytest.LogCaptureFixture
) -> None:
    reply = StreamedReply(platform)
    await reply.start()
    await reply.append("Hi")
    platform.faults.extend([Refused("no access", transient=False)] * 3)
    await reply.append(" there")
    await platform.wait_for(lambda: len(platform.calls) == 2)
    await reply.append(" again")  # the platform said no for good: no more streaming tries
    with pytest.raises(DeliveryError) as raised:
        await reply.finish(TurnSummary())
    assert not raised.value.transient
    assert [c[0] for c in platform.calls] == ["post", "edit", "edit"]
    assert reply.shown == "Hi"
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == ["refused: no access"]


async def test_a_first_post_refused_for_good_stops_the_reply(
    platform: FakePlatform, caplog: pytest.LogCaptureFixture
) -> None:
    """Nothing will ever show: the model must not go on writing (and billing) for nobody."""
    reply = StreamedReply(platform)
    await reply.start()
    platform.faults.extend([Refused("not in channel", transient=False)] * 3)
    with pytest.raises(DeliveryError) as raised:
        await reply.append("Hi")
    await reply.fail(raised.value)  # what the engine does next: one try, refused again
    assert [c[0] for c in platform.calls] == ["post", "post"]
    assert reply.shown == ""
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == ["refused: not in channel"]


async def test_a_lost_connection_is_a_delivery_error_and_one_short_line(
    platform: FakePlatform, caplog: pytest.LogCaptureFixture
) -> None:
    reply = StreamedReply(platform)
    await reply.start()
    await reply.append("Half an")
    await platform.wait_for(lambda: len(platform.calls) == 1)
    platform.faults.extend([aiohttp.ServerDisconnectedError()] * 3)
    platform.faults.append(ConnectionResetError(104, "Connection reset by peer"))
    await reply.append(" answer")
    with caplog.at_level(logging.DEBUG), pytest.raises(DeliveryError) as raised:
        await reply.finish(TurnSummary())
    assert raised.value.transient and "connection" in raised.value.user_message
    # Three tries of the last edit, then one new message saying so (it failed too here).
    assert [c[0] for c in platform.calls] == ["post", "edit", "edit", "edit", "post"]
    assert platform.calls[-1][2].startswith("! I lost the connection")
    assert reply.shown == "Half an"  # what the platform took, not what the model said
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]


async def test_a_failed_reply_keeps_its_words_and_adds_the_notice(
    platform: FakePlatform,
) -> None:
    reply = StreamedReply(platform)
    await reply.start()
    await reply.append("one two")
    await reply.fail(ModelTimeout())
    assert platform.messages[0] == "one two"
    assert platform.messages[1].startswith("! The model")
    assert reply.shown == "".join(platform.messages)


async def test_a_placeholder_is_not_shown_text(time: FakeTime) -> None:
    platform = FakePlatform(time)
    shown_placeholder = asyncio.Event()

    async def placeholder(show: Show) -> None:
        await show("…")
        shown_placeholder.set()

    platform.pacing = replace(platform.pacing, waiting=placeholder)
    reply = StreamedReply(platform)
    await reply.start()
    await shown_placeholder.wait()
    assert platform.messages == ["…"] and reply.shown == ""
    await reply.append("Sunny")
    await reply.finish(TurnSummary())
    assert platform.messages == ["Sunny"] and reply.shown == "Sunny"


async def test_streaming_edits_leave_the_reserve_to_the_final_edit(time: FakeTime) -> None:
    budget_time = FakeTime()
    budget_time.gate.clear()  # a streaming edit that must wait for the budget waits for good
    budget = ChannelThrottle(2, 60.0, clock=budget_time.clock, sleep=budget_time.sleep)
    platform = FakePlatform(time, budget)
    reply = StreamedReply(platform)
    await reply.start()
    await reply.append("a")
    await platform.wait_for(lambda: len(platform.calls) == 1)
    await reply.append("b")  # one streaming edit: within the budget less its reserve
    await platform.wait_for(lambda: len(platform.calls) == 2)
    await reply.append("c")  # the next one would spend the reserve: it waits
    await budget_time.wait_sleeps(1)
    await reply.finish(TurnSummary())  # the final edit takes the reserve at once
    assert platform.calls[-1] == ("edit", 0, "abc")
    assert len(budget_time.slept) == 1


async def test_cancelling_the_turn_while_the_final_edit_awaits_a_pending_edit_propagates(
    platform: FakePlatform,
) -> None:
    reply = StreamedReply(platform)
    await reply.start()
    await reply.append("first")
    await platform.wait_for(lambda: len(platform.calls) == 1)
    platform.edit_gate.clear()
    platform.editing.clear()
    await reply.append(" words")
    await platform.editing.wait()  # a streaming edit is under way: the final must await it
    finishing = asyncio.Event()

    async def finish() -> None:
        finishing.set()
        await reply.finish(TurnSummary())

    turn = asyncio.create_task(finish())
    # Once this wakes, the turn has run on from `set` to its first real wait: the pending
    # edit, which the gate holds.
    await finishing.wait()
    turn.cancel()
    platform.edit_gate.set()  # a reply that swallowed the cancellation would edit and finish
    with pytest.raises(asyncio.CancelledError):
        await turn
    assert turn.cancelled()
    assert [c[0] for c in platform.calls] == ["post"]  # no final edit after the cancellation


def test_slack_replies_share_their_workspaces_edit_budget() -> None:
    client = AsyncWebClient(token="xoxb-test")
    budget = workspace_edit_budget()
    replies = [
        SlackReplyBinding(
            client,
            team_id=team,
            channel="C1",
            thread_ts="1.0",
            bot_name="team",
            token_var="SLACK_BOT_TOKEN",
            budget=budget,
        )
        for team in ("T1", "T1", "T2")
    ]
    assert all(reply.pacing.budget is budget for reply in replies)
    assert [reply.pacing.budget_key for reply in replies] == ["T1", "T1", "T2"]
    # Streaming edits leave room in Slack's Tier 3 minute for every final edit.
    assert 0 < replies[0].pacing.reserve < WORKSPACE_EDITS


async def test_a_shutdown_notice_goes_out_while_the_turn_is_being_cancelled(
    platform: FakePlatform, time: FakeTime
) -> None:
    reply = StreamedReply(platform)
    await reply.start()
    await reply.append("first")
    await platform.wait_for(lambda: len(platform.calls) == 1)
    time.gate.clear()  # the next streaming edit waits out its interval
    await reply.append(" words")
    await time.wait_sleeps(1)
    streaming = asyncio.Event()

    async def turn() -> None:
        try:
            streaming.set()
            await asyncio.Event().wait()  # the model's stream, cut by a shutdown
        except asyncio.CancelledError:
            # Core's clean-up: the reply says so before the cancellation goes on. Cutting
            # the queued edit is the reply's own doing and must not end this early.
            await reply.fail(ShutDown())
            raise

    task = asyncio.create_task(turn())
    await streaming.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert platform.messages[0] == "first words"
    assert "restarting" in reply.shown
