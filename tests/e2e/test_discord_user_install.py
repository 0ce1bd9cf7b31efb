"""Parley installed to a person's own account: /ask anywhere, answered within what Discord lets
a user-installed app do there."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bots.discord.user_install import CUT_NOTE
from core.types import ConversationKey
from tests.e2e.discord_env import (
    DiscordWorld,
    discord_env,
    discord_long_replies,
    discord_world,
    running,
)
from tests.e2e.test_discord_commands import configure
from tests.fakes.discord_components import button_with
from tests.fakes.discord_server import FakeDiscord, FakeDiscordMessage, wait_until
from tests.fakes.openai_server import FakeOpenAI, Script

__all__ = ["discord_env", "discord_long_replies", "discord_world"]


async def test_ask_can_be_installed_by_a_user_and_used_anywhere(
    tmp_path: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI, discord_env: None
) -> None:
    config = configure(tmp_path / "bots.yaml", fake_discord, fake_openai, guild=False)
    async with running(config, fake_discord, fake_openai):
        pass
    declared = {c["name"]: c for c in fake_discord.commands(None)}
    assert sorted(declared["ask"]["integration_types"]) == [0, 1]  # server and user installs
    assert sorted(declared["ask"]["contexts"]) == [0, 1, 2]  # servers, its DM, group DMs
    for name in ("chat", "reset", "persona"):  # they act on threads the bot is in
        assert declared[name]["integration_types"] == [0]
        assert sorted(declared[name]["contexts"]) == [0, 1]


async def ask_as_a_user_install(world: DiscordWorld, prompt: str, *, external: bool) -> str:
    event = world.discord.interaction_create(
        "ask",
        options={"prompt": prompt},
        user_install_only=True,
        external_apps_allowed=external,
    )
    await world.discord.dispatch("INTERACTION_CREATE", event)
    return str(event["id"])


async def test_a_user_installed_ask_where_the_server_keeps_external_apps_private(
    discord_world: DiscordWorld,
) -> None:
    world = discord_world
    world.openai.enqueue(Script(chunks=("Forty", "-two.")))
    asked = await ask_as_a_user_install(world, "the answer?", external=False)
    interaction = world.discord.interaction(asked)
    await world.turns.ended(1, world.key(f"ask-{asked}"))
    assert interaction.original_content == "Forty-two."
    assert interaction.original is not None and interaction.original.ephemeral
    assert interaction.followups == []
    as_the_bot = [m for m in world.discord.posted(world.discord.channel_id) if not m.interaction_id]
    assert as_the_bot == []  # only the command's own answer: the bot is not in this server


async def test_a_long_answer_to_a_user_install_fits_in_six_messages(
    discord_long_replies: DiscordWorld,
) -> None:
    world = discord_long_replies
    paragraph = "A line of a long answer that goes on and on about the question. " * 4
    world.openai.enqueue(Script(chunks=tuple(f"{paragraph}\n\n" for _ in range(120))))
    asked = await ask_as_a_user_install(world, "tell me everything", external=True)
    await world.turns.ended(1, world.key(f"ask-{asked}"))
    interaction = world.discord.interaction(asked)
    assert 1 <= len(interaction.followups) <= 5  # Discord refuses a sixth
    assert interaction.followup_contents[-1].endswith(CUT_NOTE)
    assert not any(m.ephemeral for m in interaction.followups)  # the server allows it
    shown = (interaction.original_content or "") + "".join(interaction.followup_contents)
    assert shown.startswith(paragraph)


async def test_a_user_installed_ask_in_a_dm_the_bot_is_not_in(discord_world: DiscordWorld) -> None:
    world = discord_world
    world.openai.enqueue(Script(chunks=("Hello", " there.")))
    dm = str(world.discord.add_dm_channel(world.discord.user_id)["id"])
    event = world.discord.interaction_create(
        "ask", options={"prompt": "hi"}, channel_id=dm, user_install_only=True
    )
    assert event["context"] == 2 and event["authorizing_integration_owners"] == {
        "1": world.discord.user_id
    }
    await world.discord.dispatch("INTERACTION_CREATE", event)
    interaction = world.discord.interaction(str(event["id"]))
    await world.turns.ended(1, ConversationKey("discord", "dm", dm, "dm"))  # the DM's own thread
    assert interaction.original_content == "Hello there."
    assert interaction.followups == []


async def test_an_answer_of_long_paragraphs_to_a_user_install_fits_in_six_messages(
    discord_long_replies: DiscordWorld,
) -> None:
    # Paragraphs just over half a message: each part holds one, so parts are half full.
    world = discord_long_replies
    paragraph = "word " * 205
    world.openai.enqueue(Script(chunks=tuple(f"{paragraph}\n\n" for _ in range(20))))
    asked = await ask_as_a_user_install(world, "tell me everything", external=True)
    await world.turns.ended(1, world.key(f"ask-{asked}"))
    interaction = world.discord.interaction(asked)
    assert 1 <= len(interaction.followups) <= 5
    assert interaction.followup_contents[-1].endswith(CUT_NOTE)
    assert not any("⚠️" in text for text in interaction.followup_contents)


async def test_a_model_that_fails_late_in_a_long_user_install_answer_gets_one_notice(
    discord_long_replies: DiscordWorld,
) -> None:
    # The text alone fills six messages, so the notice needs room kept for it.
    world = discord_long_replies
    paragraph = "word " * 205
    chunks = tuple(f"{paragraph}\n\n" for _ in range(12))
    world.openai.enqueue(Script(chunks=chunks, cut_after=len(chunks)))
    asked = await ask_as_a_user_install(world, "tell me everything", external=True)
    await world.turns.ended(1, world.key(f"ask-{asked}"))
    interaction = world.discord.interaction(asked)
    assert 1 <= len(interaction.followups) <= 5
    shown = [interaction.original_content or "", *interaction.followup_contents]
    notices = [text for text in shown if "⚠️" in text]
    assert len(notices) == 1 and shown[-1] is notices[0]
    assert CUT_NOTE not in "".join(shown)


def open_fences(text: str) -> int:
    """How many code fences are open at the end of `text`, by its fence lines."""
    return sum(1 for line in text.split("\n") if line.startswith("```")) % 2


async def test_a_long_code_answer_to_a_user_install_ends_with_the_note_outside_the_code(
    discord_long_replies: DiscordWorld,
) -> None:
    world = discord_long_replies
    code = "".join(
        f"    total = total + compute_the_value_of(item_{n})  # step {n}\n" for n in range(40)
    )
    chunks = ("Here it is:\n\n```python\n", *(code for _ in range(10)), "```\n")
    world.openai.enqueue(Script(chunks=chunks))
    asked = await ask_as_a_user_install(world, "write it all", external=True)
    await world.turns.ended(1, world.key(f"ask-{asked}"))
    interaction = world.discord.interaction(asked)
    shown = [interaction.original_content or "", *interaction.followup_contents]
    assert 2 <= len(shown) <= 6
    assert all(open_fences(text) == 0 for text in shown), "each message shows whole code blocks"
    last = shown[-1]
    assert last.endswith(CUT_NOTE)
    assert open_fences(last[: last.index(CUT_NOTE)]) == 0, "the note is no line of the code"


async def rated(world: DiscordWorld) -> list[tuple[int, int]]:
    now = datetime.now(UTC)
    rows = await world.runtime.store.feedback.rows(now - timedelta(days=1), now + timedelta(1))
    return [(row.up, row.down) for row in rows]


async def buttons_on(world: DiscordWorld, asked: str) -> FakeDiscordMessage:
    def shown() -> bool:
        original = world.discord.interaction(asked).original
        return original is not None and bool(original.components)

    await wait_until(shown, message="no feedback buttons under the answer")
    original = world.discord.interaction(asked).original
    assert original is not None
    return original


@pytest.mark.parametrize("external", [True, False])
async def test_a_click_on_a_user_installed_answer_is_stored(
    discord_world: DiscordWorld, external: bool
) -> None:
    world = discord_world
    world.openai.enqueue(Script(chunks=("Forty-two.",)))
    asked = await ask_as_a_user_install(world, "the answer?", external=external)
    answer = await buttons_on(world, asked)
    click = await world.discord.click_button(answer, world.discord.user_id, "👍")
    reply_id = str(button_with(answer, "👍")["custom_id"]).rpartition(":")[2]
    await world.turns.ended(1, f"feedback:discord:{reply_id}")
    await world.discord.dispatch("INTERACTION_CREATE", click)  # the gateway replays it
    assert await rated(world) == [(1, 0)]


async def test_a_click_on_an_answer_in_a_dm_the_bot_is_not_in_is_stored(
    discord_world: DiscordWorld,
) -> None:
    world = discord_world
    world.openai.enqueue(Script(chunks=("Hello", " there.")))
    dm = str(world.discord.add_dm_channel(world.discord.user_id)["id"])
    event = world.discord.interaction_create(
        "ask", options={"prompt": "hi"}, channel_id=dm, user_install_only=True
    )
    await world.discord.dispatch("INTERACTION_CREATE", event)
    answer = await buttons_on(world, str(event["id"]))
    await world.discord.click_button(answer, world.discord.user_id, "👎")
    reply_id = str(button_with(answer, "👎")["custom_id"]).rpartition(":")[2]
    await world.turns.ended(1, f"feedback:discord:{reply_id}")
    assert await rated(world) == [(0, 1)]


async def test_a_replayed_user_installed_ask_is_answered_once(discord_world: DiscordWorld) -> None:
    world = discord_world
    world.openai.enqueue(Script(chunks=("Forty", "-two.")))
    event = world.discord.interaction_create(
        "ask", options={"prompt": "the answer?"}, user_install_only=True
    )
    await world.discord.dispatch("INTERACTION_CREATE", event)
    asked = str(event["id"])
    await world.turns.ended(1, world.key(f"ask-{asked}"))
    await world.discord.dispatch("INTERACTION_CREATE", event)  # the gateway replays it

    def acknowledgements() -> int:
        path = f"/interactions/{asked}/{event['token']}/callback"
        return sum(1 for call in world.discord.calls if call.path == path)

    await wait_until(lambda: acknowledgements() == 2, message="the replay was not answered")
    # And a later question's whole turn: the replay had time to start one of its own.
    world.openai.enqueue(Script(chunks=("Later.",)))
    later = world.discord.interaction_create("ask", options={"prompt": "later"})
    await world.discord.dispatch("INTERACTION_CREATE", later)
    await world.turns.ended(1, world.key(f"ask-{later['id']}"))
    interaction = world.discord.interaction(asked)
    assert interaction.callbacks == 1 and interaction.original_content == "Forty-two."
    assert interaction.followups == []
    assert len(world.openai.requests) == 2


async def test_a_user_installed_ask_the_model_refuses_gets_one_notice(
    discord_world: DiscordWorld,
) -> None:
    world = discord_world
    world.openai.enqueue(Script(status=401, error_message="Incorrect API key provided."))
    asked = await ask_as_a_user_install(world, "the answer?", external=False)
    await world.turns.ended(1, world.key(f"ask-{asked}"))
    interaction = world.discord.interaction(asked)
    assert interaction.original is not None and interaction.original.ephemeral
    assert (interaction.original_content or "").startswith("⚠️")
    assert interaction.followups == []


async def test_a_click_on_the_last_part_of_a_cut_user_installed_answer_is_stored(
    discord_long_replies: DiscordWorld,
) -> None:
    world = discord_long_replies
    paragraph = "word " * 205
    world.openai.enqueue(Script(chunks=tuple(f"{paragraph}\n\n" for _ in range(20))))
    asked = await ask_as_a_user_install(world, "tell me everything", external=True)
    await world.turns.ended(1, world.key(f"ask-{asked}"))
    interaction = world.discord.interaction(asked)

    def buttons_on_the_last() -> bool:
        return bool(interaction.followups) and bool(interaction.followups[-1].components)

    await wait_until(buttons_on_the_last, message="no buttons under the answer's last part")
    last = interaction.followups[-1]
    assert last.content.endswith(CUT_NOTE)
    await world.discord.click_button(last, world.discord.user_id, "👍")
    reply_id = str(button_with(last, "👍")["custom_id"]).rpartition(":")[2]
    await world.turns.ended(1, f"feedback:discord:{reply_id}")
    assert await rated(world) == [(1, 0)]


async def test_a_whole_long_answer_in_one_piece_is_fitted_too(
    discord_long_replies: DiscordWorld,
) -> None:
    # A server that ignores stream: true sends the whole answer as one completion.
    world = discord_long_replies
    paragraph = "word " * 205
    chunks = tuple(f"{paragraph}\n\n" for _ in range(20))
    world.openai.enqueue(Script(chunks=chunks, ignore_stream=True))
    asked = await ask_as_a_user_install(world, "tell me everything", external=True)
    await world.turns.ended(1, world.key(f"ask-{asked}"))
    interaction = world.discord.interaction(asked)
    assert 1 <= len(interaction.followups) <= 5
    assert interaction.followup_contents[-1].endswith(CUT_NOTE)
