"""`parley chat` on the bundled model, as a newcomer first meets it: the load is announced."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.cli.chat_child import ROOT, chat_child

pytestmark = pytest.mark.local_model


async def test_the_first_message_says_the_local_model_is_starting_in_one_line(
    tmp_path: Path,
) -> None:
    shutil.copy(ROOT / "bots.yaml", tmp_path / "bots.yaml")
    async with chat_child(tmp_path / "bots.yaml") as chat:
        await chat.shows("alice> ")
        await chat.type("Hello!")
        before_reply = await chat.shows("parley> ")
        await chat.shows("\nalice> ")
        await chat.type("And again?")  # the model is up: nothing more is said about it
        between = await chat.shows("parley> ")
        await chat.type("/quit")
        assert await chat.exit_code() == 0

    (line,) = before_reply.splitlines()
    assert line.startswith("Starting the local model (SmolLM2-135M-Instruct)… ready in ")
    assert line.endswith(" s") and "\r" not in chat.out
    assert between == ""
