"""Tools on Slack, end to end: bolt and slack_sdk against the fake Slack, the engine's tool
loop, the fake model asking for tools and the real test MCP server running them."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest

from bots.slack.approvals import APPROVE_ACTION, DENY_ACTION
from tests.e2e.slack_env import (
    ADMIN,
    ALICE,
    BOB,
    GENERAL,
    HTTP_MODE,
    SIGNING_SECRET,
    SlackWorld,
    running_slack,
    slack_env,
    write_slack_config,
)
from tests.e2e.tools_env import (
    calls_made,
    delete_then_answer,
    search_then_answer,
    tool_result_sent,
    with_tools,
)
from tests.fakes.mcp_fixtures import ToolsServerFiles
from tests.fakes.openai_server import FakeOpenAI, Script
from tests.fakes.openai_tools import asking_for_tools
from tests.fakes.slack_approvals import button_click
from tests.fakes.slack_server import FakeMessage, FakeSlack, wait_until
from tests.fakes.slack_signing import signed_headers

__all__ = ["slack_env"]

Worlds = Callable[..., AbstractAsyncContextManager[SlackWorld]]


@pytest.fixture
def files(tmp_path: Path) -> ToolsServerFiles:
    return ToolsServerFiles(tmp_path)


@pytest.fixture
def slack_tools(
    slack_env: None,
    tmp_path: Path,
    fake_slack: FakeSlack,
    fake_openai: FakeOpenAI,
    files: ToolsServerFiles,
) -> Worlds:
    """Runs the Slack bot with the `docs` tools, in a streaming mode and approval wait."""

    def world(
        streaming: str = "edits", approval_seconds: float = 600.0
    ) -> AbstractAsyncContextManager[SlackWorld]:
        config = write_slack_config(tmp_path, fake_slack, fake_openai, streaming=streaming)
        with_tools(config, files, approval_seconds=approval_seconds)
        return running_slack(config, fake_slack, fake_openai)

    return world


@pytest.fixture
async def slack(slack_tools: Worlds) -> AsyncIterator[SlackWorld]:
    async with slack_tools() as world:
        yield world


def actions_of(message: FakeMessage) -> list[dict[str, Any]]:
    return [b for b in message.blocks or () if b.get("type") == "actions"]


def context_text(message: FakeMessage) -> str:
    contexts = [b for b in message.blocks or () if b.get("type") == "context"]
    return " ".join(e["text"] for b in contexts for e in b["elements"])


async def approval_message(world: SlackWorld, thread_ts: str) -> FakeMessage:
    """The request with buttons, once the bot has posted it in the thread."""
    found: list[FakeMessage] = []

    def posted() -> bool:
        found[:] = [m for m in world.replies(GENERAL, thread_ts) if actions_of(m)]
        return bool(found)

    await wait_until(posted, message="an approval request in the thread")
    return found[0]


async def click(world: SlackWorld, message: FakeMessage, user: str, action: str) -> dict[str, Any]:
    """`user` clicks; returns the payload once the click's handling has ended."""
    payload = button_click(world.slack.identity, message, user, action)
    await send_click(world, payload)
    return payload


async def send_click(world: SlackWorld, payload: dict[str, Any]) -> None:
    """Delivers a click and waits until its handling (a task per click) has ended."""
    key = f"approval:slack:{payload['actions'][0]['value']}"
    handled = world.turns.count(key)
    await world.slack.send_interactive(payload)
    await world.turns.ended(handled + 1, key)


def is_request(message: FakeMessage) -> bool:
    blocks = message.blocks or []
    return bool(blocks) and blocks[0].get("type") == "section"


def reply_text(world: SlackWorld, thread_ts: str) -> str:
    """The streamed reply's text (not the approval request beside it)."""
    (reply,) = [m for m in world.replies(GENERAL, thread_ts) if not is_request(m)]
    return reply.markdown_text or reply.text


@pytest.mark.parametrize("streaming", ["edits", "native"])
async def test_a_read_only_call_runs_without_asking_and_its_line_shows(
    slack_tools: Worlds, files: ToolsServerFiles, streaming: str
) -> None:
    async with slack_tools(streaming) as world:
        search_then_answer(world.openai)
        event = await world.mention("where is the setup described?")
        (reply,) = await world.settled(GENERAL, event["ts"])
        assert await calls_made(files, 1) == ["search"]
        shown = reply.markdown_text or reply.text
        line = r"✅ `docs\.search` · \d+\.\d s"
        assert re.fullmatch(rf"Let me look\.\n\n{line}\n\nIt is in the setup page\.", shown)
        assert not actions_of(reply)
        assert "3 pages match" in tool_result_sent(world.openai)
        statuses = [c.params.get("status") for c in world.slack.calls_to(
            "assistant.threads.setStatus"
        )]  # fmt: skip
        if streaming == "native":
            # A stream is only added to: the line came once the call had ended, and the
            # thread's status said what ran meanwhile.
            assert "is running docs.search…" in statuses


async def test_a_destructive_call_runs_only_once_the_asker_approves(
    slack: SlackWorld, files: ToolsServerFiles
) -> None:
    delete_then_answer(slack.openai)
    event = await slack.mention("delete the faq page")
    request = await approval_message(slack, event["ts"])
    section = request.blocks[0]["text"]["text"] if request.blocks else ""
    assert "*Alice* asked me to run `docs.delete_page`" in section
    assert '```{"page": "faq"}```' in section
    assert "Expires" in context_text(request)
    # The request is its own message; the reply's line says so at its next paced edit.
    waiting = "✋ `docs.delete_page` · waiting for approval"
    await wait_until(lambda: waiting in reply_text(slack, event["ts"]), message=waiting)

    await click(slack, request, BOB, APPROVE_ACTION)
    assert slack.slack.ephemerals.to(BOB) == ["Only <@U0ALICE> or an admin can approve this."]
    assert files.calls() == []  # a stranger's click ran nothing

    second = button_click(slack.slack.identity, request, ALICE, APPROVE_ACTION)  # clicked twice
    stranger_again = button_click(slack.slack.identity, request, BOB, APPROVE_ACTION)
    first = await click(slack, request, ALICE, APPROVE_ACTION)
    await slack.settled(GENERAL, event["ts"], count=2)
    assert await calls_made(files, 1) == ["delete_page"]
    decided = slack.slack.workspace.find(GENERAL, request.ts)
    assert decided is not None and not actions_of(decided)
    assert context_text(decided) == "✅ Approved by Alice"
    assert re.search(
        r"✅ `docs\.delete_page` · \d+\.\d s\n\nDone\.$", reply_text(slack, event["ts"])
    )

    await slack.slack.send_interactive(first)  # Slack delivers the same click again
    await send_click(slack, second)
    # The redelivery was decided once and told nothing; the second click, "Already decided".
    assert slack.slack.ephemerals.to(ALICE) == ["Already decided."]
    handled = f"approval:slack:{first['actions'][0]['value']}"
    assert (slack.turns.count(handled), slack.turns.running(handled)) == (3, 0)
    await send_click(slack, stranger_again)
    assert slack.slack.ephemerals.to(BOB)[-1] == "Already decided."
    assert [call["tool"] for call in files.calls()] == ["delete_page"]  # run once


async def test_an_admin_may_approve_for_the_asker(
    slack: SlackWorld, files: ToolsServerFiles
) -> None:
    delete_then_answer(slack.openai)
    event = await slack.mention("delete the faq page")
    request = await approval_message(slack, event["ts"])
    await click(slack, request, ADMIN, APPROVE_ACTION)
    await slack.settled(GENERAL, event["ts"], count=2)
    decided = slack.slack.workspace.find(GENERAL, request.ts)
    assert decided is not None and context_text(decided) == "✅ Approved by Ada Admin"
    assert await calls_made(files, 1) == ["delete_page"]


async def test_a_denied_call_is_not_run_and_the_model_is_told(
    slack: SlackWorld, files: ToolsServerFiles
) -> None:
    delete_then_answer(slack.openai)
    event = await slack.mention("delete the faq page")
    request = await approval_message(slack, event["ts"])
    await click(slack, request, ALICE, DENY_ACTION)
    await slack.settled(GENERAL, event["ts"], count=2)
    decided = slack.slack.workspace.find(GENERAL, request.ts)
    assert decided is not None and context_text(decided) == "🚫 Denied by Alice"
    assert not actions_of(decided)
    assert "🚫 `docs.delete_page` · denied by Alice" in reply_text(slack, event["ts"])
    assert "denied by Alice" in tool_result_sent(slack.openai)
    await slack.caught_up()
    assert files.calls() == []


async def test_an_unanswered_request_expires_and_a_late_click_is_refused(
    slack_tools: Worlds, files: ToolsServerFiles
) -> None:
    async with slack_tools(approval_seconds=1) as world:
        delete_then_answer(world.openai)
        event = await world.mention("delete the faq page")
        request = await approval_message(world, event["ts"])
        late = button_click(world.slack.identity, request, ALICE, APPROVE_ACTION)
        await world.settled(GENERAL, event["ts"], count=2)  # the turn ended without a click
        expired = world.slack.workspace.find(GENERAL, request.ts)
        assert expired is not None and not actions_of(expired)
        assert context_text(expired) == "⌛ Expired: not approved within 1 second"
        assert "🚫 `docs.delete_page` · not approved in time" in reply_text(world, event["ts"])

        await send_click(world, late)  # clicked in a tab left open
        assert world.slack.ephemerals.to(ALICE) == ["This request expired."]
        assert files.calls() == []


async def test_a_native_stream_shows_the_step_once_it_ended_and_the_wait_as_status(
    slack_tools: Worlds, files: ToolsServerFiles
) -> None:
    async with slack_tools("native") as world:
        delete_then_answer(world.openai)
        event = await world.mention("delete the faq page")
        request = await approval_message(world, event["ts"])
        status = "is waiting for approval of docs.delete_page…"
        await wait_until(
            lambda: any(
                c.params.get("status") == status
                for c in world.slack.calls_to("assistant.threads.setStatus")
            ),
            message=status,
        )
        await click(world, request, ALICE, APPROVE_ACTION)
        await world.settled(GENERAL, event["ts"], count=2)
        assert await calls_made(files, 1) == ["delete_page"]
        shown = reply_text(world, event["ts"])
        assert re.fullmatch(r"✅ `docs\.delete_page` · \d+\.\d s\n\nDone\.", shown)
        # Streamed from its first line: nothing shown had to be taken back by chat.update.
        assert world.slack.calls_to("chat.startStream")
        assert not [
            c for c in world.slack.calls_to("chat.update") if c.params.get("ts") != request.ts
        ]


async def test_an_approval_over_http_mode_is_acked_and_decides(
    slack_env: None,
    tmp_path: Path,
    fake_slack: FakeSlack,
    fake_openai: FakeOpenAI,
    files: ToolsServerFiles,
) -> None:
    config = write_slack_config(tmp_path, fake_slack, fake_openai, mode=HTTP_MODE)
    with_tools(config, files)
    async with running_slack(config, fake_slack, fake_openai, socket_mode=False) as world:
        delete_then_answer(fake_openai)
        event = world.event("app_mention", f"<@{fake_slack.bot_user_id}> delete the faq page")
        await post_signed(world, json.dumps(fake_slack.event_callback(event)).encode())
        request = await approval_message(world, event["ts"])
        payload = button_click(fake_slack.identity, request, ALICE, APPROVE_ACTION)
        # Slack posts interactions form-encoded (payload=<JSON>), signed like events.
        await post_signed(world, urlencode({"payload": json.dumps(payload)}).encode(), form=True)
        await world.settled(GENERAL, event["ts"], count=2)
        assert await calls_made(files, 1) == ["delete_page"]
        decided = fake_slack.workspace.find(GENERAL, request.ts)
        assert decided is not None and context_text(decided) == "✅ Approved by Alice"


async def post_signed(world: SlackWorld, body: bytes, *, form: bool = False) -> None:
    kind = "application/x-www-form-urlencoded" if form else "application/json"
    headers = {**signed_headers(body, SIGNING_SECRET), "Content-Type": kind}
    url = f"http://127.0.0.1:{world.bot.http_port}/slack/events"
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body, headers=headers) as response,
    ):
        assert response.status == 200  # acknowledged within the request: bolt's ack


async def test_other_threads_are_answered_while_one_waits_for_approval(
    slack: SlackWorld, files: ToolsServerFiles
) -> None:
    slack.openai.enqueue(asking_for_tools(("docs__delete_page", {"page": "faq"})))
    waiting = await slack.mention("delete the faq page")
    request = await approval_message(slack, waiting["ts"])
    slack.openai.enqueue(Script(chunks=("Still here.",)))
    other = await slack.mention("are you there?", user=BOB)
    (answer,) = await slack.settled(GENERAL, other["ts"])
    assert (answer.markdown_text or answer.text) == "Still here."
    assert slack.turns.running(slack.key(GENERAL, waiting["ts"])) == 1  # still waiting
    slack.openai.enqueue(Script(chunks=("Done.",)))
    await click(slack, request, ALICE, APPROVE_ACTION)
    await slack.settled(GENERAL, waiting["ts"], count=2)
    assert await calls_made(files, 1) == ["delete_page"]
