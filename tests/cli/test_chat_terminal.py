"""`parley chat` on a real pseudo-terminal: Ctrl-C typed as a person types it (the terminal
turns it into SIGINT), line input through the terminal, Ctrl-D at the prompt."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import pty
import sys
import termios
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.cli.chat_child import GUARD, ROOT, stored_replies
from tests.e2e.conftest import TEST_KEY, write_config
from tests.fakes.fixtures import _PROXY_VARIABLES
from tests.fakes.openai_server import FakeOpenAI, Script, echo_last_user
from tests.fakes.waiting import wait_until

CTRL_C, CTRL_D = b"\x03", b"\x04"


@dataclass
class Terminal:
    """The controlling side of the child's terminal: what it wrote, and keys to press."""

    master: int
    slave: int  # kept open here too, to read the terminal's settings after the child
    screen: bytearray = field(default_factory=bytearray)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    seen_up_to: int = 0

    def readable(self) -> None:
        try:
            self.screen += os.read(self.master, 4096)
        except OSError:  # the child closed its side
            asyncio.get_running_loop().remove_reader(self.master)
        self.changed.set()

    async def shows(self, text: str) -> str:
        wanted = text.encode()

        async def arrived() -> int:
            while (found := self.screen.find(wanted, self.seen_up_to)) < 0:
                self.changed.clear()
                await self.changed.wait()
            return found

        try:
            found = await asyncio.wait_for(arrived(), GUARD)
        except TimeoutError:
            raise AssertionError(f"no {text!r} on the screen:\n{self.screen.decode()}") from None
        between = self.screen[self.seen_up_to : found].decode()
        self.seen_up_to = found + len(wanted)
        return between

    async def editing(self) -> None:
        """Waits until line editing has the terminal (readline turns canonical mode off):
        keys pressed before that reach the kernel's line discipline instead, where a Ctrl-D
        at an empty line would be spent before anyone reads."""

        def in_editing_mode() -> bool:
            return not termios.tcgetattr(self.slave)[3] & termios.ICANON

        await wait_until(in_editing_mode, timeout=GUARD, message="line editing never began")

    def press(self, keys: bytes) -> None:
        os.write(self.master, keys)


@contextlib.asynccontextmanager
async def chat_on_a_terminal(
    config: Path, *args: str
) -> AsyncIterator[tuple[Terminal, asyncio.subprocess.Process]]:
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k not in _PROXY_VARIABLES}
    env.update(PARLEY_TEST_KEY=TEST_KEY, USER="alice", PYTHONPATH=str(ROOT))
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cli", "chat", "--config", str(config), *args,
        stdin=slave, stdout=slave, stderr=slave, env=env, cwd=config.parent,
        start_new_session=True,  # its own session, so the pty can be its controlling terminal
        preexec_fn=lambda: _take_terminal(slave),
    )  # fmt: skip
    terminal = Terminal(master, slave)
    asyncio.get_running_loop().add_reader(master, terminal.readable)
    try:
        yield terminal, process
    finally:
        asyncio.get_running_loop().remove_reader(master)
        if process.returncode is None:
            process.kill()
            await process.wait()
        os.close(master)
        os.close(slave)


def _take_terminal(slave: int) -> None:
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)


async def test_on_a_terminal_ctrl_c_stops_the_reply_and_ctrl_d_leaves(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    config = write_config(tmp_path, fake_openai.base_url)
    fake_openai.enqueue(Script(chunks=("Once upon a time",), endless="words"))
    fake_openai.default = echo_last_user
    async with chat_on_a_terminal(config, "--thread", "tty") as (terminal, process):
        before = await terminal.shows("Parley: chatting with parley")
        await terminal.shows("alice> ")
        terminal.press(b"tell me a story\r")
        await terminal.shows("parley> Once upon a time")
        terminal.press(CTRL_C)
        await terminal.shows("[stopped]\r\n")
        await terminal.shows("alice> ")
        terminal.press(b"and now?\r")
        await terminal.shows("parley> echo: [alice] and now?\r\n")
        await terminal.shows("alice> ")
        await terminal.editing()
        terminal.press(CTRL_D)
        assert await asyncio.wait_for(process.wait(), GUARD) == 0

    assert before == "Starting Parley…\r"  # said while Parley loads, then written over
    (cut, answered) = stored_replies(config)
    assert cut[0] == "partial" and cut[1].startswith("Once upon a time")
    assert answered[0] == "complete"


async def test_ctrl_c_at_the_prompt_leaves_the_terminal_as_it_found_it(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    config = write_config(tmp_path, fake_openai.base_url)
    async with chat_on_a_terminal(config) as (terminal, process):
        settings = termios.tcgetattr(terminal.slave)
        await terminal.shows("alice> ")
        await terminal.editing()
        editing = termios.tcgetattr(terminal.slave)
        terminal.press(b"half a line")  # typed, never entered
        await terminal.shows("half a line")
        terminal.press(CTRL_C)
        assert await asyncio.wait_for(process.wait(), GUARD) == 0
        assert termios.tcgetattr(terminal.slave) == settings != editing
    assert fake_openai.requests == []
