"""The read gap (core/model_http.py) against a server that misbehaves while the socket is paused:
resets, half-closes, bare CR line ends, kept-alive connections, cancellations."""

from __future__ import annotations

import asyncio

import pytest

from core.errors import StreamInterrupted
from core.llm import REPLY_ENDED, ModelEvent, ModelRequest, OpenAICompatibleClient, TextDelta
from core.model_http import Stall
from core.types import PromptMessage
from tests.fakes.raw_sse import RawReply, RawSSEServer, chunk_event, raw_sse_server

HELLO = ModelRequest(model="fake-model", messages=(PromptMessage("user", "Hi"),))
END = b"data: [DONE]"


def client_for(server: RawSSEServer, **overrides: float) -> OpenAICompatibleClient:
    options = {"timeout": 2.0, "read_gap": 0.2, **overrides}
    return OpenAICompatibleClient(
        base_url=server.base_url,
        api_key="sk-x",
        timeout=options["timeout"],
        max_retries=0,
        read_gap=options["read_gap"],
    )


def text_of(events: list[ModelEvent]) -> str:
    return "".join(event.text for event in events if isinstance(event, TextDelta))


async def finish(reply: RawReply) -> None:
    await reply.send(chunk_event("", "stop") + b"\n\n")
    await reply.send(END + b"\n\n")
    await reply.end()


async def test_a_reset_in_the_read_gap_keeps_the_text_before_it() -> None:
    first_seen = asyncio.Event()

    async def answer(reply: RawReply) -> None:
        await reply.send(chunk_event("one ") + b"\n\n")
        await first_seen.wait()
        await reply.send(chunk_event("two") + b"\n\n")
        reply.reset()

    async with raw_sse_server(answer) as server:
        client = client_for(server)
        seen: list[ModelEvent] = []
        with pytest.raises(StreamInterrupted):
            async for event in client.stream(HELLO):
                seen.append(event)
                first_seen.set()
        await client.close()
    assert text_of(seen).startswith("one ") and REPLY_ENDED not in seen


async def test_a_half_close_in_the_read_gap_is_an_interrupted_reply() -> None:
    first_seen = asyncio.Event()

    async def answer(reply: RawReply) -> None:
        await reply.send(chunk_event("one ") + b"\n\n")
        await first_seen.wait()
        await reply.send(chunk_event("two") + b"\n\n")
        reply.half_close()

    async with raw_sse_server(answer) as server:
        client = client_for(server)
        seen: list[ModelEvent] = []
        with pytest.raises(StreamInterrupted):
            async for event in client.stream(HELLO):
                seen.append(event)
                first_seen.set()
        await client.close()
    assert text_of(seen) == "one two" and REPLY_ENDED not in seen


async def test_a_reply_that_ends_in_the_read_gap_leaves_its_connection_reusable() -> None:
    first_seen = asyncio.Event()

    async def answer(reply: RawReply) -> None:
        await reply.send(chunk_event("one ") + b"\n\n")
        await first_seen.wait()
        first_seen.clear()
        # The rest and the body's end all arrive while the socket is left unread.
        await reply.send(chunk_event("two") + b"\n\n" + chunk_event("", "stop") + b"\n\n")
        await reply.send(END + b"\n\n")
        await reply.end()

    async with raw_sse_server(answer) as server:
        client = client_for(server)
        for _ in range(3):
            seen = []
            async for event in client.stream(HELLO):
                seen.append(event)
                first_seen.set()
            assert text_of(seen) == "one two" and REPLY_ENDED in seen
        await client.close()
    assert server.requests == 3
    assert server.connections == 1, "the kept-alive connection was reused, and read"


async def test_an_event_ended_by_bare_crs_is_read_before_the_next_bytes() -> None:
    # "\r" alone ends an SSE line; a server that ends its events so and then pauses must
    # not have its last event held until some later byte (or a stall) comes.
    more = asyncio.Event()

    async def answer(reply: RawReply) -> None:
        await reply.send(chunk_event("one ") + b"\r\r")
        await reply.send(chunk_event("two", "stop") + b"\r\r")
        await more.wait()
        await reply.send(END + b"\r\r")
        await reply.end()

    async with raw_sse_server(answer) as server:
        client = client_for(server, read_gap=0.0, timeout=5.0)
        seen: list[ModelEvent] = []
        async for event in client.stream(HELLO):
            seen.append(event)
            if event == REPLY_ENDED:
                more.set()
        await client.close()
    assert text_of(seen) == "one two"


async def test_crlf_split_across_reads_is_one_line_end() -> None:
    half = asyncio.Event()

    async def answer(reply: RawReply) -> None:
        await reply.send(chunk_event("one ") + b"\r\n\r")
        await half.wait()
        await reply.send(b"\n" + chunk_event("two", "stop") + b"\r")
        await reply.send(b"\n\r\n" + END + b"\r\n\r\n")
        await reply.end()

    async with raw_sse_server(answer) as server:
        client = client_for(server, read_gap=0.0)
        seen: list[ModelEvent] = []
        async for event in client.stream(HELLO):
            seen.append(event)
            half.set()
        await client.close()
    assert text_of(seen) == "one two" and seen.count(REPLY_ENDED) == 1


async def test_a_gap_longer_than_the_timeout_is_no_stall() -> None:
    # The gap is Parley leaving the socket unread, not the server keeping it waiting: a
    # timeout far shorter than it must not fire while the words pile up unread.
    shown = asyncio.Event()

    async def answer(reply: RawReply) -> None:
        await reply.send(chunk_event("0 ") + b"\n\n")
        await shown.wait()  # the client is in its gap now, or about to be
        for n in range(1, 10):
            await reply.send(chunk_event(f"{n} ") + b"\n\n")
        await finish(reply)

    async with raw_sse_server(answer) as server:
        client = client_for(server, timeout=0.1, read_gap=0.5)
        seen = []
        async for event in client.stream(HELLO):
            seen.append(event)
            shown.set()
        await client.close()
    assert text_of(seen) == "".join(f"{n} " for n in range(10))


async def test_a_100_kb_chunk_sent_in_pieces_across_gaps_arrives_whole() -> None:
    big = "x" * 100_000
    line = chunk_event(big) + b"\n\n"

    async def answer(reply: RawReply) -> None:
        await reply.send(chunk_event("start ") + b"\n\n")
        for at in range(0, len(line), 7_000):
            await reply.send(line[at : at + 7_000])  # flushed piece by piece
        await finish(reply)

    async with raw_sse_server(answer) as server:
        client = client_for(server, read_gap=0.04)
        seen = [event async for event in client.stream(HELLO)]
        await client.close()
    assert text_of(seen) == "start " + big


async def test_a_cancel_in_the_read_gap_leaves_no_paused_connection() -> None:
    first_seen = asyncio.Event()

    async def answer(reply: RawReply) -> None:
        await reply.send(chunk_event("one ") + b"\n\n")
        await first_seen.wait()
        first_seen.clear()
        await reply.send(chunk_event("two", "stop") + b"\n\n" + END + b"\n\n")
        await reply.end()

    async with raw_sse_server(answer) as server:
        client = client_for(server, read_gap=0.5)
        stream = client.stream(HELLO)
        assert await anext(stream) == TextDelta("one ")
        gap = asyncio.ensure_future(anext(stream))
        await asyncio.sleep(0)  # one turn of the loop: the read is now paused in its gap
        gap.cancel()
        with pytest.raises(asyncio.CancelledError):
            await gap
        await stream.aclose()
        first_seen.set()
        # The next request on the same client may not land on a paused connection.
        seen = []
        async for event in client.stream(HELLO):
            seen.append(event)
            first_seen.set()
        await client.close()
    assert text_of(seen) == "one two" and server.requests == 2


@pytest.mark.parametrize("data_first", [True, False])
async def test_a_stall_that_fires_as_the_bytes_come_leaves_no_cancellation_behind(
    data_first: bool,
) -> None:
    # The timer's check and the bytes land in the same turn of the loop: the read either
    # gets them or times out, and the task is left with no cancellation pending either way.
    socket_data = asyncio.StreamReader()  # wakes its reader as aiohttp's does
    waiting = asyncio.Event()
    with Stall(60.0) as stall:

        async def read() -> tuple[object, int]:
            waiting.set()
            try:
                got: object = await stall.wait(socket_data.read(100))
            except TimeoutError as timeout:
                got = timeout
            task = asyncio.current_task()
            assert task is not None
            return got, task.cancelling()

        reading = asyncio.create_task(read())
        await waiting.wait()  # set in the step that then suspends in the read
        if data_first:
            socket_data.feed_data(b"data")
        # What its timer does once the wait has lasted its seconds, the timer itself a minute
        # away: as if the wait had begun a minute ago.
        assert stall._waiting_since is not None
        stall._waiting_since -= 60.0
        stall._check()
        if not data_first:
            socket_data.feed_data(b"data")
        got, cancelling = await reading
    assert cancelling == 0
    assert got == b"data" or isinstance(got, TimeoutError)
