"""`parley chat` as a process: a reload that renames the bot being chatted with is refused."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from tests.e2e.conftest import TEST_KEY, write_config
from tests.fakes.openai_server import FakeOpenAI, Script

ROOT = Path(__file__).resolve().parents[2]
GUARD = 60.0


async def _line_with(stream: asyncio.StreamReader, text: str) -> str:
    """The first line that contains `text`; fails if the stream ends first, or after a
    guard against a hung test that a loaded machine never reaches."""

    async def first() -> str:
        while line := (await stream.readline()).decode():
            if text in line:
                return line
        raise AssertionError(f"the stream ended before a line with {text!r}")

    try:
        return await asyncio.wait_for(first(), GUARD)
    except TimeoutError:
        raise AssertionError(f"no line with {text!r} within {GUARD} s") from None


async def test_renaming_the_chat_bot_on_sighup_is_refused_and_chat_goes_on(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    config = write_config(tmp_path, fake_openai.base_url)
    fake_openai.enqueue(Script(chunks=("still answering",)))
    env = {**os.environ, "PARLEY_TEST_KEY": TEST_KEY, "PYTHONPATH": str(ROOT)}
    chat = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cli", "chat", "--config", str(config), "--thread", "t1",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=env, cwd=ROOT,
    )  # fmt: skip
    assert chat.stdin and chat.stdout and chat.stderr
    try:
        await _line_with(chat.stdout, "chatting with parley")
        config.write_text(config.read_text().replace("- name: parley", "- name: renamed"))
        chat.send_signal(signal.SIGHUP)
        refused = await _line_with(chat.stderr, "config reload")
        chat.stdin.write(b"hello\n")
        await chat.stdin.drain()
        await _line_with(chat.stdout, "still answering")
        chat.stdin.write(b"/quit\n")
        await chat.stdin.drain()
        assert await chat.wait() == 0
    finally:
        if chat.returncode is None:
            chat.kill()
            await chat.wait()
    assert "refused" in refused and "bot 'parley' (console) is running" in refused
