"""What an approval request shows on Slack and Discord, whatever its arguments hold."""

from __future__ import annotations

from datetime import UTC, datetime

from bots.discord.approval_view import request_content, settled_content
from bots.slack.approvals import request_blocks, request_text, settled_blocks
from core.types import ApprovalRequest, ApprovalSettled, Author

EXPIRES = datetime(2026, 12, 3, 11, 0, tzinfo=UTC)


def request(arguments: str, name: str = "Ann") -> ApprovalRequest:
    return ApprovalRequest("req-1", "docs.delete_page", arguments, Author("U1", name), EXPIRES)


def test_slack_arguments_can_neither_ping_nor_link() -> None:
    blocks = request_blocks(request('{"text": "<!channel> & <@U2> <https://x.invalid|y>"}'))
    section = blocks[0]["text"]["text"]
    assert "<" not in section.replace("<!date", "") and ">" not in section
    assert "&lt;!channel&gt; &amp; &lt;@U2&gt;" in section
    assert "<" not in request_text(request("{}", name="<!here>"))


def test_slack_arguments_cannot_close_their_code_block_early() -> None:
    section = request_blocks(request('{"x": "``` *bold*"}'))[0]["text"]["text"]
    assert section.count("```") == 2 and section.endswith("```")


def test_slack_request_shows_when_it_expires_and_its_buttons_carry_the_id() -> None:
    _, context, actions = request_blocks(request("{}"))
    assert context["elements"][0]["text"].startswith(f"Expires <!date^{int(EXPIRES.timestamp())}^")
    assert [e["value"] for e in actions["elements"]] == ["req-1", "req-1"]
    assert actions["block_id"] == "parley_tool:U1"


def test_slack_settled_request_has_no_buttons() -> None:
    settled = ApprovalSettled(request("{}"), "denied", "Bob")
    blocks = settled_blocks(settled, "Denied by Bob")
    assert [b["type"] for b in blocks] == ["section", "context"]
    assert blocks[1]["elements"][0]["text"] == "🚫 Denied by Bob"


def test_discord_request_fits_and_its_arguments_stay_in_their_block() -> None:
    content = request_content(request("```" + "a" * 5000, name="**Ann**"))
    assert len(content) <= 2000
    assert content.startswith("✋ **\\*\\*Ann\\*\\*** asked me to run `docs.delete_page` with:\n")
    assert content.count("```") == 2
    assert content.endswith(
        f"-# Expires <t:{int(EXPIRES.timestamp())}:R>: unanswered, it is denied."
    )
    settled = settled_content(ApprovalSettled(request("{}"), "expired"), "Expired: not approved")
    assert settled.endswith("\n⌛ Expired: not approved")
