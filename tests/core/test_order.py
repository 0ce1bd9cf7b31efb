"""Messages of one conversation are stored and answered in arrival order; others run freely."""

from __future__ import annotations

import asyncio

import pytest

from core.turn.order import ArrivalOrder


async def test_one_conversation_answers_in_arrival_order_while_others_run() -> None:
    order = ArrivalOrder()
    events: list[str] = []
    first_started, release_first = asyncio.Event(), asyncio.Event()

    async def turn(key: str, name: str) -> None:
        async with order.place(key) as place:
            await place.stored()
            place.mark_stored()
            await place.answerable()
            events.append(f"{name} start")
            if name == "a1":
                first_started.set()
                await release_first.wait()
            events.append(f"{name} end")

    a1 = asyncio.create_task(turn("a", "a1"))
    await first_started.wait()
    a2 = asyncio.create_task(turn("a", "a2"))
    await turn("b", "b1")  # another conversation does not wait for a1
    assert events == ["a1 start", "b1 start", "b1 end"]
    release_first.set()
    await asyncio.gather(a1, a2)
    assert events[-3:] == ["a1 end", "a2 start", "a2 end"]
    assert len(order) == 0


async def test_a_later_message_is_stored_while_an_earlier_one_is_answered() -> None:
    order = ArrivalOrder()
    answering, stored_second = asyncio.Event(), asyncio.Event()

    async def first() -> None:
        async with order.place("a") as place:
            place.mark_stored()
            answering.set()
            await stored_second.wait()  # still answering when the second is stored

    async def second() -> None:
        async with order.place("a") as place:
            await place.stored()
            stored_second.set()
            await place.answerable()

    await asyncio.gather(first(), second())
    assert len(order) == 0


async def test_a_failed_or_cancelled_place_lets_the_line_move_on() -> None:
    order = ArrivalOrder()
    holding = asyncio.Event()

    async def stuck() -> None:
        async with order.place("a"):
            holding.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(stuck())
    await holding.wait()
    with pytest.raises(RuntimeError):
        async with order.place("a"):
            raise RuntimeError("boom")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with order.place("a") as place:
        await place.answerable()
    assert len(order) == 0
