"""The per-channel edit budget: full speed until the budget is spent, then paced; per channel."""

from __future__ import annotations

from bots.throttle import ChannelThrottle


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 3))
        self.now += seconds


async def test_five_edits_go_at_once_and_the_sixth_waits_for_the_window() -> None:
    time = FakeTime()
    throttle = ChannelThrottle(5, 5.0, clock=time.clock, sleep=time.sleep)
    for _ in range(5):
        await throttle.acquire("c1")
        time.now += 0.1
    assert time.slept == []
    await throttle.acquire("c1")
    # The first of the five was spent at 100.0; its slot frees at 105.0.
    assert time.slept == [4.5] and time.now == 105.0


async def test_channels_do_not_share_a_budget() -> None:
    time = FakeTime()
    throttle = ChannelThrottle(2, 5.0, clock=time.clock, sleep=time.sleep)
    for channel in ("c1", "c1", "c2", "c2", "c3"):
        await throttle.acquire(channel)
    assert time.slept == []
    assert throttle.delay("c1") == 5.0 and throttle.delay("c4") == 0.0


async def test_a_steady_stream_is_paced_to_the_budget() -> None:
    time = FakeTime()
    throttle = ChannelThrottle(5, 5.0, clock=time.clock, sleep=time.sleep)
    start = time.now
    for _ in range(20):
        await throttle.acquire("c1")
    # 20 edits at 5 per 5 s: the last one spends its slot 15 s after the first.
    assert time.now - start == 15.0


async def test_a_reserved_slot_is_left_for_the_final_edit() -> None:
    time = FakeTime()
    throttle = ChannelThrottle(5, 5.0, clock=time.clock, sleep=time.sleep)
    for _ in range(4):
        await throttle.acquire("c1", reserve=1)
    assert throttle.delay("c1", reserve=1) == 5.0  # streaming edits must wait...
    await throttle.acquire("c1")  # ...the final edit does not
    assert time.slept == []
