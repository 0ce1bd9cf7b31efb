"""Turns in one conversation run in order; other conversations do not wait for them."""

from __future__ import annotations

import asyncio

from core.turn.order import KeyedLocks


async def test_same_key_is_serialized_and_other_keys_run_in_parallel() -> None:
    locks = KeyedLocks()
    events: list[str] = []
    a_started = asyncio.Event()

    async def turn(key: str, name: str, pause: float) -> None:
        async with locks.hold(key):
            events.append(f"{name} start")
            if name == "a1":
                a_started.set()
            await asyncio.sleep(pause)
            events.append(f"{name} end")

    first = asyncio.create_task(turn("a", "a1", 0.05))
    await a_started.wait()
    await asyncio.gather(turn("a", "a2", 0), turn("b", "b1", 0), first)
    assert events.index("a1 end") < events.index("a2 start")
    assert events.index("b1 end") < events.index("a1 end")
    assert len(locks) == 0


async def test_lock_is_released_when_a_turn_fails() -> None:
    locks = KeyedLocks()
    try:
        async with locks.hold("a"):
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    async with asyncio.timeout(1):
        async with locks.hold("a"):
            pass
    assert len(locks) == 0
