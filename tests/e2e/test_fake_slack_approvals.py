"""FakeSlack against the real slack_sdk: the blocks an approval uses are checked as Slack
checks them, and chat.postEphemeral shows a note to one person only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bots.slack.approvals import APPROVE_ACTION, request_blocks
from core.types import ApprovalRequest, Author
from tests.fakes.slack_approvals import button_click
from tests.fakes.slack_server import FakeSlack

CHANNEL = "C0GENERAL"
ALICE = "U0ALICE"


def client(fake: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token=fake.bot_token, base_url=fake.api_url)


def button(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": "Approve"},
        "action_id": "approve",
        "value": "req",
    }
    return {**base, **changes}


def actions(*elements: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"type": "actions", "elements": list(elements)}]


@pytest.mark.parametrize(
    ("blocks", "why"),
    [
        (actions(*(button(action_id=f"a{n}") for n in range(26))), "1 to 25"),
        (actions(button(text={"type": "plain_text", "text": "x" * 76})), "1 to 75"),
        (actions(button(value="v" * 2001)), "at most 2000"),
        (actions(button(action_id="a" * 256)), "longer than 255"),
        (actions(button(), button()), "unique"),
        (actions(button(style="green")), "primary or danger"),
        (actions(button(text={"type": "mrkdwn", "text": "*Go*"})), "plain_text"),
        ([{"type": "section", "text": {"type": "mrkdwn", "text": "y" * 3001}}], "1 to 3000"),
        ([{"type": "section"}], "mrkdwn or plain_text"),
        ([{"type": "context", "elements": []}], "1 to 10"),
    ],
)
async def test_blocks_slack_refuses_are_refused(
    fake_slack: FakeSlack, blocks: list[dict[str, Any]], why: str
) -> None:
    with pytest.raises(SlackApiError) as refused:
        await client(fake_slack).chat_postMessage(channel=CHANNEL, text="t", blocks=blocks)
    assert refused.value.response["error"] == "invalid_blocks"
    assert why in refused.value.response["errors"][0]
    assert fake_slack.posted(CHANNEL) == []


async def test_an_approval_request_fits_and_a_click_carries_its_id(
    fake_slack: FakeSlack,
) -> None:
    expires = datetime.now(UTC) + timedelta(minutes=10)
    ann = Author("U1", "Ann")
    longest = ApprovalRequest("r" * 16, "docs.delete_page", "a" * 3000, ann, expires)
    posted = await client(fake_slack).chat_postMessage(
        channel=CHANNEL, text="approval", blocks=request_blocks(longest)
    )
    (message,) = fake_slack.posted(CHANNEL)
    assert message.ts == posted["ts"]
    payload = button_click(fake_slack.identity, message, ALICE, APPROVE_ACTION)
    (action,) = payload["actions"]
    assert (action["value"], action["block_id"]) == ("r" * 16, "parley_tool:U1")


async def test_an_ephemeral_note_is_shown_to_one_user_and_kept_out_of_history(
    fake_slack: FakeSlack,
) -> None:
    fake_slack.add_user(ALICE, "Alice")
    web = client(fake_slack)
    answer = await web.chat_postEphemeral(
        channel=CHANNEL, user=ALICE, text="Already decided.", thread_ts="1700000000.000100"
    )
    assert answer["ok"] and answer["message_ts"]
    assert fake_slack.ephemerals.to(ALICE) == ["Already decided."]
    assert fake_slack.posted(CHANNEL) == []
    with pytest.raises(SlackApiError) as refused:
        await web.chat_postEphemeral(channel=CHANNEL, user="U0NOBODY", text="hi")
    assert refused.value.response["error"] == "user_not_in_channel"
