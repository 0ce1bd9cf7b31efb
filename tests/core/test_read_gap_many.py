"""A thousand streams read through the read gap at once leave nothing behind: no task, no
live timer, no connection in the pool with its reading paused."""

from __future__ import annotations

import asyncio

import aiohttp

from core.llm import ModelRequest, OpenAICompatibleClient, TextDelta
from core.model_http import Stall
from core.types import PromptMessage
from tests.fakes.openai_server import FakeOpenAI, Script

STREAMS = 1000
HELLO = ModelRequest(model="fake-model", messages=(PromptMessage("user", "Hi"),))


def live_stall_timers(loop: asyncio.AbstractEventLoop) -> int:
    """Timers still due to run a Stall's check (the servers' keep-alive ones are not ours)."""
    scheduled: list[asyncio.TimerHandle] = getattr(loop, "_scheduled")  # noqa: B009
    owners = [getattr(getattr(handle, "_callback", None), "__self__", None) for handle in scheduled]
    return sum(
        1
        for handle, owner in zip(scheduled, owners, strict=True)
        if isinstance(owner, Stall) and not handle.cancelled()
    )


def client_tasks() -> set[asyncio.Task[object]]:
    """Running tasks but the fake server's, one per kept-alive connection it serves."""
    return {
        task
        for task in asyncio.all_tasks()
        if task.get_coro().__qualname__ != "RequestHandler.start"  # type: ignore[union-attr]
    }


async def one_reply(client: OpenAICompatibleClient) -> str:
    texts = [e.text async for e in client.stream(HELLO) if isinstance(e, TextDelta)]
    return "".join(texts)


async def test_a_thousand_gapped_streams_leave_no_task_timer_or_paused_connection(
    fake_openai: FakeOpenAI,
) -> None:
    loop = asyncio.get_running_loop()
    # Chunks 10 ms apart: each stream goes through several read gaps.
    fake_openai.default = Script(chunks=("a", "b", "c", "d", "e"), delay_between_chunks=0.01)
    client = OpenAICompatibleClient(
        base_url=fake_openai.base_url, api_key="sk-x", timeout=30.0, max_retries=0
    )
    try:
        tasks_before = client_tasks()
        replies = await asyncio.gather(*(one_reply(client) for _ in range(STREAMS)))
        assert replies == ["abcde"] * STREAMS
        assert client_tasks() == tasks_before
        session = client._http._session
        assert session is not None and isinstance(session.connector, aiohttp.TCPConnector)
        pooled = [proto for conns in session.connector._conns.values() for proto, _ in conns]
        assert pooled, "the replies' connections went back to the pool"
        paused = [p for p in pooled if p.transport is not None and not p.transport.is_reading()]
        assert paused == []
        assert live_stall_timers(loop) == 0
    finally:
        await client.close()
