"""Approve / Deny: one decision per request, by the asker or an admin, in its own thread."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from core.errors import ParleyError
from core.tools.approvals import Approvals
from core.types import (
    ApprovalClick,
    ApprovalRequest,
    ApprovalSettled,
    Author,
    ConversationKey,
)

KEY = ConversationKey("slack", "T1", "C1", "1700000000.000100")
ASKER = Author("U1", "Ann")


class ApprovalSink:
    """Only the approval half of a sink: what the registry posts and settles."""

    def __init__(self, *, settle_fails: bool = False) -> None:
        self.asked: asyncio.Queue[ApprovalRequest] = asyncio.Queue()
        self.settled: list[ApprovalSettled] = []
        self._settle_fails = settle_fails

    async def ask_approval(self, request: ApprovalRequest) -> None:
        self.asked.put_nowait(request)

    async def approval_settled(self, settled: ApprovalSettled) -> None:
        if self._settle_fails:
            raise ParleyError("the platform refused the edit")
        self.settled.append(settled)


def click(
    request: ApprovalRequest, user: str, *, approve: bool = True, **kw: object
) -> ApprovalClick:
    place = {"bot": "team", "platform": "slack", "workspace": "T1", "channel": "C1"}
    place.update({k: str(v) for k, v in kw.items() if k != "admin"})
    return ApprovalClick(
        approval_id=request.id, user_id=user, user_name=user.lower(), approve=approve,
        admin=bool(kw.get("admin", False)), **place,
    )  # fmt: skip


async def asking(
    approvals: Approvals, sink: ApprovalSink, seconds: float = 60
) -> tuple[asyncio.Task[ApprovalSettled], ApprovalRequest]:
    task = asyncio.create_task(
        approvals.ask("team", KEY, "docs.delete_page", '{"page": "x"}', ASKER, sink, seconds)
    )
    return task, await sink.asked.get()


@pytest.fixture
def approvals() -> Approvals:
    return Approvals(lambda: datetime.now(UTC))


async def test_the_asker_approves_once_and_a_second_click_is_told_it_is_decided(
    approvals: Approvals,
) -> None:
    sink = ApprovalSink()
    task, request = await asking(approvals, sink)
    assert approvals.click(click(request, "U2")) == "not_allowed"
    assert approvals.click(click(request, "U1")) == "approved"
    assert approvals.click(click(request, "U1", approve=False)) == "decided"
    settled = await task
    assert (settled.decision, settled.by) == ("approved", "u1")
    assert sink.settled == [settled]
    assert approvals.click(click(request, "U1")) == "decided"  # a redelivered click, later


async def test_an_admin_may_deny_and_a_click_from_another_thread_is_unknown(
    approvals: Approvals,
) -> None:
    sink = ApprovalSink()
    task, request = await asking(approvals, sink)
    assert approvals.click(click(request, "U1", channel="C2")) == "unknown"
    assert approvals.click(click(request, "U9", approve=False, admin=True)) == "denied"
    assert (await task).decision == "denied"


async def test_an_unanswered_request_expires_and_later_clicks_say_so(approvals: Approvals) -> None:
    sink = ApprovalSink()
    task, request = await asking(approvals, sink, seconds=0.01)
    settled = await task
    assert settled.decision == "expired"
    assert approvals.click(click(request, "U1")) == "expired"


async def test_a_cancelled_turn_settles_its_request_as_cancelled(approvals: Approvals) -> None:
    sink = ApprovalSink()
    task, request = await asking(approvals, sink)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [s.decision for s in sink.settled] == ["cancelled"]
    assert approvals.click(click(request, "U1")) == "decided"


async def test_a_platform_that_refuses_the_edit_does_not_fail_the_decision(
    approvals: Approvals,
) -> None:
    sink = ApprovalSink(settle_fails=True)
    task, request = await asking(approvals, sink)
    approvals.click(click(request, "U1"))
    assert (await task).decision == "approved"


async def test_an_unknown_id_is_unknown(approvals: Approvals) -> None:
    request = ApprovalRequest("nope", "docs.x", "{}", ASKER, datetime.now(UTC))
    assert approvals.click(click(request, "U1")) == "unknown"
