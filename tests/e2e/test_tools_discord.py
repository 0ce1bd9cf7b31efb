"""Tools on Discord, end to end: discord.py against the fake Discord, the engine's tool loop,
the fake model asking for tools and the real test MCP server running them."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.e2e.discord_env import ADMIN, DiscordWorld, discord_env, running, write_config
from tests.e2e.tools_env import (
    calls_made,
    delete_then_answer,
    search_then_answer,
    tool_result_sent,
    with_tools,
)
from tests.fakes.discord_components import button_labelled, component_interaction
from tests.fakes.discord_payloads import Payload
from tests.fakes.discord_server import FakeDiscord, FakeDiscordMessage, wait_until
from tests.fakes.mcp_fixtures import ToolsServerFiles
from tests.fakes.openai_server import FakeOpenAI

__all__ = ["discord_env"]

BOB = "400000000000000077"


@pytest.fixture
def files(tmp_path: Path) -> ToolsServerFiles:
    return ToolsServerFiles(tmp_path)


async def world_with_tools(
    tmp_path: Path, fake: FakeDiscord, openai: FakeOpenAI, files: ToolsServerFiles, seconds: float
) -> AsyncIterator[DiscordWorld]:
    config = write_config(tmp_path / "bots.yaml", fake, openai)
    with_tools(config, files, approval_seconds=seconds)
    fake.add_user(BOB, "bob")
    async with running(config, fake, openai) as world:
        yield world


@pytest.fixture
async def discord(
    tmp_path: Path,
    fake_discord: FakeDiscord,
    fake_openai: FakeOpenAI,
    discord_env: None,
    files: ToolsServerFiles,
) -> AsyncIterator[DiscordWorld]:
    async for world in world_with_tools(tmp_path, fake_discord, fake_openai, files, 600):
        yield world


@pytest.fixture
async def discord_quick_expiry(
    tmp_path: Path,
    fake_discord: FakeDiscord,
    fake_openai: FakeOpenAI,
    discord_env: None,
    files: ToolsServerFiles,
) -> AsyncIterator[DiscordWorld]:
    async for world in world_with_tools(tmp_path, fake_discord, fake_openai, files, 1):
        yield world


def is_request(message: FakeDiscordMessage) -> bool:
    return "asked me to run" in message.content


async def request_in(world: DiscordWorld, thread: str) -> FakeDiscordMessage:
    await wait_until(
        lambda: any(is_request(m) and m.components for m in world.discord.posted(thread)),
        message="an approval request with buttons in the thread",
    )
    return next(m for m in world.discord.posted(thread) if is_request(m))


def reply_in(world: DiscordWorld, thread: str) -> str:
    """The streamed reply's text (not the request beside it, nor a note one clicker saw)."""
    (reply,) = [m for m in world.discord.posted(thread) if not is_request(m) and not m.ephemeral]
    return reply.content


def press(world: DiscordWorld, message: FakeDiscordMessage, user: str, label: str) -> Payload:
    """The click's interaction, built while the button shows (send it with `send`)."""
    custom_id = str(button_labelled(message, label)["custom_id"])
    return component_interaction(world.discord.world, message, user, custom_id)


async def send(world: DiscordWorld, click: Payload) -> str | None:
    """Dispatches the click; once answered, the ephemeral note it got (None: a quiet ack)."""
    await world.discord.dispatch("INTERACTION_CREATE", click)
    interaction = world.discord.interaction(str(click["id"]))
    await wait_until(lambda: interaction.callbacks >= 1, message="the click was answered")
    assert interaction.callbacks == 1
    if interaction.callback_type == 6:
        return None
    assert interaction.callback_type == 4 and interaction.original is not None
    assert interaction.original.ephemeral
    return interaction.original.content


async def test_a_read_only_call_runs_without_asking_and_its_line_shows(
    discord: DiscordWorld, files: ToolsServerFiles
) -> None:
    search_then_answer(discord.openai)
    thread = await discord.say("where is the setup described?", mention=True)
    (reply,) = await discord.settled(thread)
    assert await calls_made(files, 1) == ["search"]
    line = r"✅ `docs\.search` · \d+\.\d s"
    assert re.fullmatch(rf"Let me look\.\n\n{line}\n\nIt is in the setup page\.", reply.content)
    assert "3 pages match" in tool_result_sent(discord.openai)


async def test_a_destructive_call_runs_only_once_the_asker_approves(
    discord: DiscordWorld, files: ToolsServerFiles
) -> None:
    fake = discord.discord
    delete_then_answer(discord.openai)
    thread = await discord.say("delete the faq page", mention=True)
    request = await request_in(discord, thread)
    asker = fake.identity.user_name.title()
    assert request.content.startswith(f"✋ **{asker}** asked me to run `docs.delete_page` with:")
    assert '```json\n{"page": "faq"}\n```' in request.content
    waiting = "✋ `docs.delete_page` · waiting for approval"
    await wait_until(lambda: waiting in reply_in(discord, thread), message=waiting)

    stranger = press(discord, request, BOB, "Approve")
    approve = press(discord, request, fake.user_id, "Approve")
    again = press(discord, request, fake.user_id, "Approve")  # a stale tab's second click
    note = await send(discord, stranger)
    assert note == f"Only <@{fake.user_id}> or an admin can approve this."
    assert files.calls() == []  # a stranger's click ran nothing

    assert await send(discord, approve) is None  # decided: acknowledged quietly
    await discord.settled(thread, count=2)
    assert await calls_made(files, 1) == ["delete_page"]
    decided = fake.world.find(thread, request.id)
    assert decided is not None and decided.components == []
    assert decided.content.endswith(f"\n✅ Approved by {asker}")
    assert re.search(r"✅ `docs\.delete_page` · \d+\.\d s\n\nDone\.$", reply_in(discord, thread))

    assert await send(discord, again) == "Already decided."
    assert [call["tool"] for call in files.calls()] == ["delete_page"]


async def test_an_admin_may_approve_for_the_asker(
    discord: DiscordWorld, files: ToolsServerFiles
) -> None:
    discord.discord.add_user(ADMIN, "ada")
    delete_then_answer(discord.openai)
    thread = await discord.say("delete the faq page", mention=True)
    request = await request_in(discord, thread)
    assert await send(discord, press(discord, request, ADMIN, "Approve")) is None
    await discord.settled(thread, count=2)
    assert await calls_made(files, 1) == ["delete_page"]
    decided = discord.discord.world.find(thread, request.id)
    assert decided is not None and decided.content.endswith("✅ Approved by Ada")


async def test_a_denied_call_is_not_run_and_the_model_is_told(
    discord: DiscordWorld, files: ToolsServerFiles
) -> None:
    fake = discord.discord
    delete_then_answer(discord.openai)
    thread = await discord.say("delete the faq page", mention=True)
    request = await request_in(discord, thread)
    assert await send(discord, press(discord, request, fake.user_id, "Deny")) is None
    await discord.settled(thread, count=2)
    asker = fake.identity.user_name.title()
    decided = fake.world.find(thread, request.id)
    assert decided is not None and decided.components == []
    assert decided.content.endswith(f"\n🚫 Denied by {asker}")
    assert f"🚫 `docs.delete_page` · denied by {asker}" in reply_in(discord, thread)
    assert f"denied by {asker}" in tool_result_sent(discord.openai)
    await discord.caught_up()
    assert files.calls() == []


async def test_an_unanswered_request_expires_and_a_late_click_is_refused(
    discord_quick_expiry: DiscordWorld, files: ToolsServerFiles
) -> None:
    world, fake = discord_quick_expiry, discord_quick_expiry.discord
    delete_then_answer(world.openai)
    thread = await world.say("delete the faq page", mention=True)
    request = await request_in(world, thread)
    late = press(world, request, fake.user_id, "Approve")
    await world.settled(thread, count=2)
    expired = fake.world.find(thread, request.id)
    assert expired is not None and expired.components == []
    assert expired.content.endswith("\n⌛ Expired: not approved within 1 second")
    assert "🚫 `docs.delete_page` · not approved in time" in reply_in(world, thread)
    assert await send(world, late) == "This request expired."
    assert files.calls() == []


async def test_an_ask_command_asks_in_a_follow_up_and_edits_it_when_decided(
    discord: DiscordWorld, files: ToolsServerFiles
) -> None:
    """/ask in a channel: the reply is the command's response, the request a follow-up
    (edited through the interaction's webhook once decided)."""
    fake = discord.discord
    delete_then_answer(discord.openai)
    event = fake.interaction_create("ask", options={"prompt": "delete the faq page"})
    await fake.dispatch("INTERACTION_CREATE", event)
    asked = fake.interaction(str(event["id"]))
    await wait_until(lambda: any(m.components for m in asked.followups), message="a request")
    (request,) = asked.followups
    assert is_request(request)
    assert await send(discord, press(discord, request, fake.user_id, "Approve")) is None
    await wait_until(lambda: not discord.turns.running(), message="the turn ended")
    assert await calls_made(files, 1) == ["delete_page"]
    asker = fake.identity.user_name.title()
    assert request.components == [] and request.content.endswith(f"✅ Approved by {asker}")
    assert asked.original is not None
    assert asked.original.content.endswith("\n\nDone.")


async def test_a_request_in_a_dm_is_decided_there(
    discord: DiscordWorld, files: ToolsServerFiles
) -> None:
    fake = discord.discord
    dm = str(fake.add_dm_channel(fake.user_id)["id"])
    delete_then_answer(discord.openai)
    await discord.say("delete the faq page", channel=dm)
    request = await request_in(discord, dm)
    assert await send(discord, press(discord, request, fake.user_id, "Approve")) is None
    await discord.settled(dm, count=2)
    assert await calls_made(files, 1) == ["delete_page"]
    assert re.search(r"✅ `docs\.delete_page` · \d+\.\d s\n\nDone\.$", reply_in(discord, dm))
