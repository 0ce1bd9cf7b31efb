"""The event loop PARLEY_EVENT_LOOP picks, and a clear error for one it does not name."""

from __future__ import annotations

import asyncio

import pytest

from bots import event_loop


async def loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__.split(".")[0]


@pytest.mark.parametrize(
    ("setting", "expected"),
    [("asyncio", "asyncio"), (" AsyncIO ", "asyncio"), ("uvloop", "uvloop"), ("", "uvloop")],
)
def test_the_loop_named_is_the_loop_run(
    monkeypatch: pytest.MonkeyPatch, setting: str, expected: str
) -> None:
    monkeypatch.setenv("PARLEY_EVENT_LOOP", setting)
    assert event_loop.run(loop_module()) == expected


def test_a_loop_it_does_not_know_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARLEY_EVENT_LOOP", "asycnio")
    with pytest.raises(
        event_loop.UnknownEventLoop, match="must be uvloop or asyncio, not 'asycnio'"
    ):
        event_loop.run(loop_module())
