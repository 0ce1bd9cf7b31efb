"""Tool steps and approval requests in the shared streaming reply, against a fake platform."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bots.reply import DeliveryError, StreamedReply
from bots.reply.binding import Show
from bots.reply.document import ReplyDocument
from bots.split import split_message
from core.types import ApprovalRequest, ApprovalSettled, Author, ToolStep, TurnSummary
from tests.bots.reply_fakes import FakePlatform, FakeTime, Refused

ANN = Author("U1", "Ann")


@pytest.fixture
def time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def platform(time: FakeTime) -> FakePlatform:
    platform = FakePlatform(time)
    platform.limit = 200  # room for a step line and some text in one message
    return platform


def search(state: str, seconds: float | None = None, note: str = "") -> ToolStep:
    return ToolStep("call-1", "docs.search", state, seconds, note)  # type: ignore[arg-type]


def request(minutes: float = 10) -> ApprovalRequest:
    expires = datetime.now(UTC) + timedelta(minutes=minutes)
    return ApprovalRequest("req-1", "docs.delete_page", '{"page": 7}', ANN, expires)


async def test_a_step_line_shows_where_it_happened_and_changes_in_place(
    platform: FakePlatform,
) -> None:
    reply: StreamedReply[int] = StreamedReply(platform)
    await reply.start()
    await reply.append("Let me look.")
    await platform.wait_for(lambda: len(platform.calls) == 1)
    await reply.step(search("running"))
    await platform.wait_for(lambda: platform.messages == ["Let me look.\n\n⏳ `docs.search`…"])
    await reply.step(search("ok", 0.42))
    await platform.wait_for(
        lambda: platform.messages == ["Let me look.\n\n✅ `docs.search` · 0.4 s"]
    )
    await reply.append("Found it.")
    await reply.finish(TurnSummary())
    assert platform.messages == ["Let me look.\n\n✅ `docs.search` · 0.4 s\n\nFound it."]
    # Every change edited the one message; the steps are not the model's text.
    assert {kind for kind, _, _ in platform.calls} == {"post", "edit"}
    assert "docs.search" not in reply.shown
    assert reply.shown.startswith("Let me look.") and reply.shown.endswith("Found it.")


async def test_a_reply_that_starts_with_a_tool_call_shows_its_line_at_once(
    platform: FakePlatform, time: FakeTime
) -> None:
    reply: StreamedReply[int] = StreamedReply(platform)
    await reply.start()
    await reply.step(search("running"))
    assert platform.calls == [("post", 0, "⏳ `docs.search`…")]
    assert time.slept == []  # the first thing shown goes out at once, like first words
    assert reply.shown == ""  # a step line alone is no text the user was told


async def test_step_changes_are_paced_like_text(platform: FakePlatform, time: FakeTime) -> None:
    reply: StreamedReply[int] = StreamedReply(platform)
    await reply.start()
    await reply.step(search("running"))
    time.gate.clear()
    await reply.step(search("failed", 30.0, "timed out after 30 s"))
    await time.wait_sleeps(1)
    assert time.slept == [1.0]  # one paced edit, as text would wait for
    time.gate.set()
    await platform.wait_for(lambda: len(platform.calls) == 2)
    assert platform.calls[1] == ("edit", 0, "❌ `docs.search` · timed out after 30 s")


async def test_step_lines_count_against_the_platforms_limit(time: FakeTime) -> None:
    platform = FakePlatform(time)  # 20 characters a message
    reply: StreamedReply[int] = StreamedReply(platform)
    await reply.start()
    await reply.append("Looking it up")
    await reply.step(search("ok", 1.5))
    await reply.finish(TurnSummary())
    assert all(len(message) <= 20 for message in platform.messages)
    assert len(platform.messages) >= 2
    assert "".join(platform.messages).count("docs.search") == 1


async def test_parallel_steps_each_keep_their_line(platform: FakePlatform) -> None:
    reply: StreamedReply[int] = StreamedReply(platform)
    await reply.start()
    one, two = ToolStep("a", "docs.search", "running"), ToolStep("b", "wiki.get", "running")
    await reply.step(one)
    await reply.step(two)
    await reply.step(ToolStep("b", "wiki.get", "ok", 0.2))
    await reply.step(ToolStep("a", "docs.search", "denied", None, "denied by Ann"))
    await reply.finish(TurnSummary())
    assert platform.messages == ["🚫 `docs.search` · denied by Ann\n✅ `wiki.get` · 0.2 s"]


async def test_without_live_steps_a_line_shows_once_its_step_ended(
    platform: FakePlatform,
) -> None:
    platform.live_steps = False
    reply: StreamedReply[int] = StreamedReply(platform)
    await reply.start()
    await reply.append("Checking.")
    await platform.wait_for(lambda: len(platform.calls) == 1)
    await reply.step(search("waiting"))
    await reply.step(search("running"))
    assert platform.messages == ["Checking."]  # nothing shown that would change later
    await reply.step(search("ok", 2.0))
    await reply.finish(TurnSummary())
    assert platform.messages == ["Checking.\n\n✅ `docs.search` · 2.0 s"]
    assert platform.statuses == [
        "is waiting for approval of docs.search…",
        "is running docs.search…",
        "",
    ]


async def test_an_approval_is_a_message_of_its_own_updated_with_the_decision(
    platform: FakePlatform,
) -> None:
    reply: StreamedReply[int] = StreamedReply(platform)
    await reply.start()
    await reply.step(ToolStep("c", "docs.delete_page", "waiting"))
    asked = request()
    await reply.ask_approval(asked)
    assert platform.approvals == [("req-1", 'asked: docs.delete_page {"page": 7}')]
    assert platform.calls[0][0] == "post"  # the reply's line came before the request
    await reply.approval_settled(ApprovalSettled(asked, "approved", "Ann"))
    assert platform.approvals == [("req-1", "Approved by Ann")]
    await reply.approval_settled(ApprovalSettled(asked, "approved", "Ann"))  # once only
    assert [c[0] for c in platform.calls].count("settled") == 1


@pytest.mark.parametrize(
    ("decision", "by", "shown"),
    [
        ("denied", "Bob", "Denied by Bob"),
        ("expired", "", "Expired: not approved within 10 minutes"),
        ("cancelled", "", "Cancelled: the turn ended"),
    ],
)
async def test_each_way_a_request_ends_is_worded(
    platform: FakePlatform, decision: str, by: str, shown: str
) -> None:
    reply: StreamedReply[int] = StreamedReply(platform)
    asked = request()
    await reply.ask_approval(asked)
    await reply.approval_settled(ApprovalSettled(asked, decision, by))  # type: ignore[arg-type]
    assert platform.approvals == [("req-1", shown)]


async def test_a_refused_request_post_is_a_delivery_error(platform: FakePlatform) -> None:
    reply: StreamedReply[int] = StreamedReply(platform)
    platform.faults.append(Refused("missing permissions", transient=False))
    asked = request()
    with pytest.raises(DeliveryError):
        await reply.ask_approval(asked)
    await reply.approval_settled(ApprovalSettled(asked, "cancelled"))
    assert platform.approvals == []  # never shown, so nothing to update


def test_a_step_after_an_open_code_block_shows_as_a_line_not_code() -> None:
    document = ReplyDocument(200)
    document.add_text("Run this:\n```sh\nls")
    document.set_step(search("running"))
    assert document.rendered() == "Run this:\n```sh\nls\n```\n\n⏳ `docs.search`…"
    assert document.text() == "Run this:\n```sh\nls"


def test_text_split_around_steps_is_the_same_as_splitting_it_whole() -> None:
    document = ReplyDocument(40)
    for word in ["one", "two", "three", "four", "five", "six", "seven"]:
        document.add_text(word + " ")
    document.set_step(search("running"))
    document.add_text("after the call " * 4)
    document.set_step(search("ok", 0.1))  # changed in place: split again from the start
    assert document.parts() == split_message(document.rendered(), 40)


async def test_without_live_steps_progress_ends_the_waiting_status(
    platform: FakePlatform, time: FakeTime
) -> None:
    """A slow model's "is thinking…" must not come after "is running …" and hide it."""
    platform.live_steps = False
    time.gate.clear()
    stopped = asyncio.Event()

    async def thinking_later(show: Show) -> None:
        try:
            await time.sleep(0.8)
            platform.statuses.append("is thinking…")
        except asyncio.CancelledError:
            stopped.set()
            raise

    platform.pacing = replace(platform.pacing, waiting=thinking_later)
    reply: StreamedReply[int] = StreamedReply(platform)
    await reply.start()
    await time.wait_sleeps(1)
    await reply.step(search("running"))
    await stopped.wait()
    time.gate.set()
    await reply.step(search("ok", 0.3))
    await reply.finish(TurnSummary())
    assert platform.statuses == ["is running docs.search…", ""]
