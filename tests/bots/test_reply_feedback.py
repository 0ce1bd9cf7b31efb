"""The shared streaming reply puts the feedback buttons under a finished reply's last message."""

from __future__ import annotations

import pytest

from bots.reply import StreamedReply
from bots.throttle import ChannelThrottle
from core.errors import ModelTimeout
from core.types import TurnSummary
from tests.bots.reply_fakes import LIMIT, FakePlatform, FakeTime


@pytest.fixture
def time() -> FakeTime:
    return FakeTime()


def rating(time: FakeTime, budget: ChannelThrottle | None = None) -> FakePlatform:
    platform = FakePlatform(time, budget)
    platform.feedback = True
    return platform


async def test_a_reply_shown_in_full_gets_one_edit_for_the_buttons(time: FakeTime) -> None:
    platform = rating(time)
    reply = StreamedReply(platform)
    await reply.start()
    await reply.append("Short.")
    await reply.finish(TurnSummary(reply_id=7))
    assert platform.calls == [("post", 0, "Short."), ("edit", 0, "Short.")]
    assert platform.rated == [(0, 7)]


async def test_the_final_edit_carries_the_buttons_without_another_call(time: FakeTime) -> None:
    platform = rating(time)
    time.gate.clear()  # the streaming edit never gets its turn: the final edit takes it all
    reply = StreamedReply(platform)
    await reply.start()
    await reply.append("Hello")
    await reply.append(" world")
    time.gate.set()
    await reply.finish(TurnSummary(reply_id=3))
    assert platform.calls == [("post", 0, "Hello"), ("edit", 0, "Hello world")]
    assert platform.rated == [(0, 3)]


async def test_only_the_last_part_of_a_long_reply_has_buttons(time: FakeTime) -> None:
    platform = rating(time)
    reply = StreamedReply(platform)
    await reply.start()
    words = " ".join(["word"] * (LIMIT // 2))
    await reply.append(words)
    await reply.finish(TurnSummary(reply_id=9))
    assert len(platform.messages) > 1
    assert platform.rated == [(len(platform.messages) - 1, 9)]


async def test_buttons_never_wait_for_a_busy_edit_budget(time: FakeTime) -> None:
    budget = ChannelThrottle(2, 60.0, clock=time.clock, sleep=time.sleep)
    await budget.acquire("c1")  # another reply's edit: only the reserved one is left
    platform = rating(time, budget)
    reply = StreamedReply(platform)
    await reply.start()
    await reply.append("Short.")
    await reply.finish(TurnSummary(reply_id=7))
    assert platform.calls == [("post", 0, "Short.")]
    assert platform.rated == [] and time.slept == []


async def test_no_buttons_when_feedback_is_off_or_the_reply_failed(time: FakeTime) -> None:
    platform = FakePlatform(time)  # feedback off
    reply = StreamedReply(platform)
    await reply.start()
    await reply.append("Short.")
    await reply.finish(TurnSummary(reply_id=7))
    failing = rating(time)
    cut = StreamedReply(failing)
    await cut.start()
    await cut.append("Half")
    await cut.fail(ModelTimeout("the model stopped answering"))
    assert platform.rated == [] and failing.rated == []
    assert platform.calls == [("post", 0, "Short.")]
