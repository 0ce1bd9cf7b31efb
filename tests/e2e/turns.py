"""An awaitable "turn ended" signal: the end of each adapter turn task, counted per conversation.

Every event an adapter hands to core runs in a task named `turn:<conversation key>`
(bots/tasks.py); the task ends after the engine returned and the reply's last post or edit
was answered by the platform. TurnWatch sees those tasks end through the event loop's task
factory, so a test awaits the fact instead of sleeping, and a negative check ("nothing more
was posted") can wait for a later turn that must end first.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Callable, Generator
from typing import Any, cast

from core.types import ConversationKey

PREFIX = "turn:"
# Only a guard against a hung test: nothing waits this long unless something is broken.
GUARD_SECONDS = 30.0

TaskFactory = Callable[..., "asyncio.Future[Any]"]


class TurnWatch:
    """Counts ended turn tasks, in total and per conversation key."""

    def __init__(self) -> None:
        self.keys: list[str] = []  # one entry per ended turn, in the order they ended
        self._per_key: Counter[str] = Counter()
        self._changed = asyncio.Event()

    def count(self, key: ConversationKey | str | None = None) -> int:
        return len(self.keys) if key is None else self._per_key[str(key)]

    def running(self, key: ConversationKey | str | None = None) -> int:
        """Turn tasks alive now (for `key`, or any)."""
        name = f"{PREFIX}{key}" if key is not None else None
        return sum(
            1
            for task in asyncio.all_tasks()
            if not task.done()
            and (task.get_name() == name if name else task.get_name().startswith(PREFIX))
        )

    async def ended(self, n: int, key: ConversationKey | str | None = None) -> None:
        """Returns once `n` turns (of `key`, or in all) have ended since the watch began."""
        await self._until(lambda: self.count(key) >= n, f"{n} turns of {key or 'any'} ended")

    async def next(self, key: ConversationKey | str | None = None) -> None:
        """Returns once one more turn (of `key`, or any) has ended than had when called."""
        await self.ended(self.count(key) + 1, key)

    async def _until(self, done: Callable[[], bool], what: str) -> None:
        try:
            async with asyncio.timeout(GUARD_SECONDS):
                while not done():
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            raise AssertionError(
                f"not true within {GUARD_SECONDS} s: {what} (ended: {self.keys})"
            ) from None

    def _task_done(self, task: asyncio.Future[Any]) -> None:
        name = task.get_name() if isinstance(task, asyncio.Task) else ""
        if not name.startswith(PREFIX):
            return
        key = name.removeprefix(PREFIX)
        self.keys.append(key)
        self._per_key[key] += 1
        self._changed.set()

    @contextlib.contextmanager
    def _installed(self, loop: asyncio.AbstractEventLoop) -> Generator[None, None, None]:
        previous = loop.get_task_factory()

        def factory(
            loop: asyncio.AbstractEventLoop, coro: Any, /, **context: Any
        ) -> asyncio.Future[Any]:
            # `context` comes by keyword, and only when the caller gave one.
            task: asyncio.Future[Any]
            if previous is not None:
                task = cast(TaskFactory, previous)(loop, coro, **context)
            else:
                task = asyncio.Task(coro, loop=loop, **context)
            # The name is set after the factory returns; it is read when the task is done.
            task.add_done_callback(self._task_done)
            return task

        loop.set_task_factory(factory)
        try:
            yield
        finally:
            loop.set_task_factory(previous)


@contextlib.asynccontextmanager
async def watching_turns() -> AsyncIterator[TurnWatch]:
    """A TurnWatch over the running loop, from now until the block is left."""
    watch = TurnWatch()
    with watch._installed(asyncio.get_running_loop()):
        yield watch
