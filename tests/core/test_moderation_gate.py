"""The output gate: nothing reaches the user unchecked, and checks never reorder the reply."""

from __future__ import annotations

import asyncio

import pytest

from core.errors import ContentFlagged
from core.moderation_gate import FIRST_SEGMENT_CHARS, SEGMENT_CHARS, CheckedGate, segment_end
from tests.fakes.waiting import deadline


def test_segments_end_at_paragraphs_or_at_a_word_once_long() -> None:
    assert segment_end("Short line") == 0
    assert segment_end("One.\n\nTwo") == len("One.\n\n")
    first = "word " * (FIRST_SEGMENT_CHARS // 5) + "half"
    assert segment_end(first) == len(first) - len("half")
    assert segment_end("x" * FIRST_SEGMENT_CHARS) == FIRST_SEGMENT_CHARS


def test_segments_grow_with_what_was_cut_before_up_to_a_cap() -> None:
    text = "word " * 40  # 200 characters
    assert segment_end(text, before=FIRST_SEGMENT_CHARS) == len(text)
    assert segment_end(text, before=250) == 0
    assert segment_end("x" * SEGMENT_CHARS, before=10_000) == SEGMENT_CHARS


class Recorder:
    """The screen and the sink; each step it takes is an event a test can wait for."""

    def __init__(self, *, hold: bool = False, flag_on: str | None = None) -> None:
        self.checked: list[str] = []
        self.shown: list[str] = []
        self.checking = asyncio.Event()  # a check has begun
        self.answer = asyncio.Event()  # checks return once this is set
        self.flagged = asyncio.Event()
        self.released = asyncio.Event()
        self._flag_on = flag_on
        if not hold:
            self.answer.set()

    async def screen(self, text: str) -> bool:
        self.checked.append(text)
        self.checking.set()
        await self.answer.wait()
        if self._flag_on is not None and self._flag_on in text:
            self.flagged.set()
            raise ContentFlagged("output", ("violence",))
        return True

    async def show(self, text: str) -> None:
        # Whatever is shown must have been part of a check that came before it.
        assert any(text in checked for checked in self.checked)
        self.shown.append(text)
        self.released.set()


async def test_segments_that_pile_up_during_a_slow_check_go_out_after_one_check() -> None:
    recorder = Recorder(hold=True)
    async with CheckedGate(recorder.screen, recorder.show) as gate:
        await gate.feed("paragraph 0\n\n")
        await recorder.checking.wait()  # the first check is in flight, and held there
        for n in range(1, 6):
            await gate.feed(f"paragraph {n}\n\n")
        recorder.answer.set()
        await gate.finish()

    everything = "".join(f"paragraph {n}\n\n" for n in range(6))
    assert "".join(recorder.shown) == everything
    assert recorder.checked == ["paragraph 0\n\n", everything]  # the five waited for one


async def test_a_flag_stops_the_release_for_good() -> None:
    recorder = Recorder(flag_on="BAD")
    async with CheckedGate(recorder.screen, recorder.show) as gate:
        await gate.feed("fine\n\n")
        await recorder.released.wait()
        await gate.feed("BAD\n\n")
        await recorder.flagged.wait()
        with pytest.raises(ContentFlagged):
            await gate.feed("more")
        with pytest.raises(ContentFlagged):
            await gate.finish()
    assert recorder.shown == ["fine\n\n"]


async def test_a_sink_that_fails_ends_the_turn_with_its_error() -> None:
    tried = asyncio.Event()

    async def screen(text: str) -> bool:
        return True

    async def broken(text: str) -> None:
        tried.set()
        raise ConnectionError("platform down")

    async with CheckedGate(screen, broken) as gate:
        await gate.feed("one\n\n")
        await tried.wait()
        with pytest.raises(ConnectionError):
            await gate.feed("two")


async def test_leaving_early_cancels_a_check_in_flight() -> None:
    recorder = Recorder(hold=True)  # the check never returns on its own
    async with (
        deadline(30, "leaving cancelled the check"),
        CheckedGate(recorder.screen, recorder.show) as gate,
    ):
        await gate.feed("waiting\n\n")
        await recorder.checking.wait()
    assert recorder.checked == ["waiting\n\n"] and recorder.shown == []
