"""A reply the model breaks off inside a code block: the notice shows as words, not as code."""

from __future__ import annotations

from tests.e2e.discord_env import DiscordWorld, discord_env, discord_world
from tests.fakes.openai_server import Script

__all__ = ["discord_env", "discord_world"]


def open_fences(text: str) -> int:
    return sum(1 for line in text.split("\n") if line.lstrip().startswith("```")) % 2


async def test_a_reply_cut_inside_a_code_block_gets_its_notice_outside_it(
    discord_world: DiscordWorld,
) -> None:
    world = discord_world
    chunks = ("Try this:\n\n```python\n", "def f():\n", "    return 1\n")
    world.openai.enqueue(Script(chunks=chunks, cut_after=len(chunks)))
    event = world.discord.interaction_create("ask", options={"prompt": "code?"})
    await world.discord.dispatch("INTERACTION_CREATE", event)
    asked = str(event["id"])
    await world.turns.ended(1, world.key(f"ask-{asked}"))
    shown = world.discord.interaction(asked).original_content or ""
    assert "⚠️" in shown and shown.count("⚠️") == 1
    before_notice = shown[: shown.index("⚠️")]
    assert "def f():" in before_notice
    assert open_fences(before_notice) == 0, f"the notice is inside the code block: {shown!r}"
