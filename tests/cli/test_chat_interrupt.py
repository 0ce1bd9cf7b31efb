"""Ctrl-C in `parley chat`: during a reply it stops that reply only; at the prompt it leaves."""

from __future__ import annotations

from pathlib import Path

from tests.cli.chat_child import chat_child, stored_replies
from tests.e2e.conftest import write_config
from tests.fakes.openai_server import FakeOpenAI, Script, echo_last_user
from tests.fakes.waiting import wait_until


async def test_ctrl_c_stops_the_reply_keeps_it_as_partial_and_the_chat_goes_on(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    config = write_config(tmp_path, fake_openai.base_url)
    # A reply that would never end by itself: words keep coming until the reader goes.
    fake_openai.enqueue(Script(chunks=("Once upon a time",), endless="words"))
    fake_openai.default = echo_last_user
    async with chat_child(config, "--thread", "story") as chat:
        await chat.shows("alice> ")
        await chat.type("tell me a long story")
        await chat.shows("parley> Once upon a time")
        chat.ctrl_c()
        stopped = await chat.shows("[stopped]\n")
        await chat.shows("alice> ")  # back at the prompt, in the same process
        await chat.type("and now?")
        await chat.shows("parley> echo: [alice] and now?\n")
        await chat.type("/quit")
        assert await chat.exit_code() == 0

    assert "\n" not in stopped  # the mark ends the line the reply was on
    (cut, answered) = stored_replies(config)
    assert cut[0] == "partial" and cut[1].startswith("Once upon a time")
    assert cut[2] == "stopped by the user"  # not a shutdown: a redelivery must not re-answer
    assert answered[:2] == ("complete", "echo: [alice] and now?")
    # The next turn told the model the story was cut, not that it was finished.
    sent = fake_openai.requests[-1]["messages"]
    assert isinstance(sent, list)
    assert sent[2]["content"].startswith("Once upon a time")
    assert sent[2]["content"].endswith("[this reply was cut off before it finished]")


async def test_ctrl_c_at_the_prompt_ends_the_chat(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    config = write_config(tmp_path, fake_openai.base_url)
    async with chat_child(config) as chat:
        await chat.shows("alice> ")
        chat.ctrl_c()
        assert await chat.exit_code() == 0
    assert chat.out.endswith("alice> \n")
    assert fake_openai.requests == []


async def test_ctrl_c_before_the_first_words_stops_the_turn_too(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    config = write_config(tmp_path, fake_openai.base_url)
    # The provider's own timeout must not end the wait before Ctrl-C does.
    config.write_text(config.read_text().replace("timeout: 1\n", "timeout: 600\n"))
    fake_openai.enqueue(Script(chunks=("never shown",), delay_before_first_chunk=600))
    fake_openai.default = echo_last_user
    async with chat_child(config, "--thread", "slow") as chat:
        await chat.shows("alice> ")
        await chat.type("hello?")
        await wait_until(lambda: len(fake_openai.requests) == 1, message="no model call")
        chat.ctrl_c()
        await chat.shows("parley> [stopped]\n")
        await chat.shows("alice> ")
        await chat.type("still there?")
        await chat.shows("parley> echo: [alice] still there?\n")
        chat.process.stdin.close()  # type: ignore[union-attr]  # Ctrl-D: the end of input
        assert await chat.exit_code() == 0

    (nothing, answered) = stored_replies(config)
    assert nothing == ("failed", "", "stopped by the user")  # nothing shown: no one's history
    assert answered[0] == "complete"
