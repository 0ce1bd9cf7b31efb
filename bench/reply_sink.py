"""The platform side of a streamed reply alone: CPU per chunk of the shared StreamedReply.

Run: .venv/bin/python -m bench.reply_sink [--chunks 350 5000] [--runs 7]

A reply of N chunks streams into StreamedReply on a simulated clock (one chunk every
11.4 ms, as the turn benchmarks' model does), with each platform's limit, edit interval and
look; Slack's edits pass through its mention neutraliser, as they do in the bot. No network:
the calls themselves are what bench.slack_turns and bench.discord_turns measure, and the
model's stream is core's. The driver's own loop is measured alone and taken off, so the
figures are the reply's: appends, pacing, splitting, the part diff, the final edit.
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import itertools
import statistics
import time
from collections.abc import Callable

from bots import event_loop
from bots.discord.reply import MESSAGE_LIMIT as DISCORD_LIMIT
from bots.discord.reply import DiscordStyle
from bots.reply import DeliveryError, Pacing, Refusal, ReplyStyle, StreamedReply
from bots.slack.mentions import without_pings
from bots.slack.reply import MESSAGE_LIMIT as SLACK_LIMIT
from bots.slack.reply import SlackStyle
from bots.throttle import ChannelThrottle
from core.types import ApprovalRequest, ApprovalSettled, TurnSummary

CHUNK_SECONDS = 4.0 / 350  # the turn benchmarks' 350-chunk reply takes about 4 s


class SimulatedClock:
    """Time moves only when the driver says; sleepers wake when it passes their deadline."""

    def __init__(self) -> None:
        self.now = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        woken = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + seconds, next(self._order), woken))
        await woken

    def advance(self, seconds: float) -> None:
        self.now += seconds
        while self._sleepers and self._sleepers[0][0] <= self.now:
            woken = heapq.heappop(self._sleepers)[2]
            if not woken.done():
                woken.set_result(None)


class SilentPlatform:
    """A binding whose calls go nowhere; it does the text work the real one does."""

    def __init__(
        self,
        clock: SimulatedClock,
        limit: int,
        style: ReplyStyle,
        budget: ChannelThrottle,
        prepare: Callable[[str], str],
    ) -> None:
        self.limit = limit
        self.style = style
        self.pacing = Pacing(
            budget=budget, budget_key="bench", sleep=clock.sleep, clock=clock.clock
        )
        self.calls = 0
        self._prepare = prepare

    feedback = False
    live_steps = True

    async def post(
        self, text: str, *, first: bool, final: bool = False, rated: int | None = None
    ) -> int:
        self._prepare(text)
        self.calls += 1
        return self.calls

    async def edit(self, message: int, text: str, *, rated: int | None = None) -> None:
        self._prepare(text)
        self.calls += 1

    async def close(
        self, message: int, text: str, *, changed: bool, last: bool, rated: int | None = None
    ) -> None:
        if changed or rated is not None:
            await self.edit(message, text, rated=rated)

    async def posted(self, message: int) -> None:
        pass

    async def progress(self, text: str) -> None:
        pass

    async def post_approval(self, request: ApprovalRequest) -> int:
        raise AssertionError("the bench streams text only")

    async def settle_approval(self, message: int, settled: ApprovalSettled, decision: str) -> None:
        raise AssertionError("the bench streams text only")

    def refusal(self, error: Exception) -> Refusal | None:
        return None

    def undelivered(
        self, detail: str, *, transient: bool, user_message: str | None = None
    ) -> DeliveryError:
        raise AssertionError("nothing fails here")


def chunks(count: int) -> list[str]:
    """About a token each, with a paragraph break now and then, as a model writes."""
    return [f"w{n}\n\n" if n % 40 == 39 else f"w{n} " for n in range(count)]


async def one_reply(platform: str, pieces: list[str], *, reply: bool) -> tuple[float, int]:
    """CPU seconds of streaming `pieces` (into nothing, when `reply` is False), and calls."""
    clock = SimulatedClock()
    if platform == "slack":
        budget = ChannelThrottle(50, 60.0, clock=clock.clock, sleep=clock.sleep)
        binding = SilentPlatform(clock, SLACK_LIMIT, SlackStyle(), budget, without_pings)
    else:
        budget = ChannelThrottle(5, 5.0, clock=clock.clock, sleep=clock.sleep)
        binding = SilentPlatform(clock, DISCORD_LIMIT, DiscordStyle(), budget, str)
    sink: StreamedReply[int] = StreamedReply(binding)
    started = time.process_time()
    await sink.start()
    for piece in pieces:
        if reply:
            await sink.append(piece)
        clock.advance(CHUNK_SECONDS)
        await asyncio.sleep(0)  # the model's next read: the reply's edit task may run
    if reply:
        await sink.finish(TurnSummary())
    return time.process_time() - started, binding.calls


async def main(counts: list[int], runs: int) -> None:
    for platform in ("slack", "discord"):
        for count in counts:
            pieces = chunks(count)
            cpu: list[float] = []
            calls = 0
            for _ in range(runs):
                driver, _ = await one_reply(platform, pieces, reply=False)
                total, calls = await one_reply(platform, pieces, reply=True)
                cpu.append(total - driver)
            median = statistics.median(cpu)
            print(
                f"{platform:>7}, {count:>5} chunks ({sum(map(len, pieces)):>6} chars): "
                f"{calls:>3} calls, reply CPU {median * 1000:6.2f} ms "
                f"({median / count * 1e6:4.1f} µs per chunk; median of {runs})"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, nargs="+", default=[350, 5000])
    parser.add_argument("--runs", type=int, default=7)
    arguments = parser.parse_args()
    event_loop.run(main(arguments.chunks, arguments.runs))
