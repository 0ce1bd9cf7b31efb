"""FakeDiscord refuses message components Discord refuses (400, 50035), and takes the
Approve / Deny row Parley sends for a tool approval."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from bots.discord.approval_view import ApprovalButtons
from core.types import ApprovalRequest, Author
from tests.fakes.discord_server import FakeDiscord


def button(**changes: Any) -> dict[str, Any]:
    return {"type": 2, "style": 1, "label": "Approve", "custom_id": "a", **changes}


def row(*buttons: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"type": 1, "components": list(buttons)}]


async def post(fake: FakeDiscord, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    url = f"{fake.api_url}/channels/{fake.channel_id}/messages"
    headers = {"Authorization": f"Bot {fake.token}"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json=body, headers=headers) as answer,
    ):
        return answer.status, await answer.json()


@pytest.mark.parametrize(
    ("components", "why"),
    [
        (row(button(custom_id="c" * 101)), "custom_id must be 1 to 100"),
        (row(*(button(custom_id=f"b{n}") for n in range(6))), "1 to 5"),
        (row(button(label="x" * 81)), "at most 80"),
        (row(button(), button()), "unique"),
        ([button()], "action row"),
    ],
)
async def test_components_discord_refuses_are_refused(
    fake_discord: FakeDiscord, components: list[dict[str, Any]], why: str
) -> None:
    status, body = await post(fake_discord, {"content": "approve?", "components": components})
    assert (status, body["code"]) == (400, 50035)
    assert why in str(body)
    assert fake_discord.posted(fake_discord.channel_id) == []


async def test_an_approval_row_is_taken(fake_discord: FakeDiscord) -> None:
    expires = datetime.now(UTC) + timedelta(minutes=10)
    asker = Author("1" * 20, "Ann")  # the longest user id: the custom_id still fits
    request = ApprovalRequest("r" * 16, "docs.delete_page", "{}", asker, expires)
    components = ApprovalButtons(request).to_components()
    status, _ = await post(fake_discord, {"content": "approve?", "components": components})
    assert status == 200
    (message,) = fake_discord.posted(fake_discord.channel_id)
    ids = [b["custom_id"] for b in message.components[0]["components"]]
    assert ids == [f"parley:tool:{verb}:{'r' * 16}:{'1' * 20}" for verb in ("approve", "deny")]
