"""Hot reload: a good edit swaps the whole config, a bad one keeps the old and says why."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from pathlib import Path

import pytest

from bots.config_models import config_models, load_config
from core.config import ConfigHolder
from tests.fakes.waiting import wait_until

GOOD = """\
personas:
  helper:
    system_prompt: hi
    model: {model}
bots:
  - name: console
    platform: console
    persona: helper
"""


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    path = tmp_path / "bots.yaml"
    path.write_text(GOOD.format(model="gpt-4o-mini"), encoding="utf-8")
    return path


def _holder(path: Path) -> ConfigHolder:
    return ConfigHolder(path, load_config(path, {}), env={}, platforms=config_models())


def test_broken_edit_keeps_the_old_config_and_logs_one_warning(
    config_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    holder = _holder(config_path)
    before = holder.current
    config_path.write_text(GOOD.format(model="x").replace("persona: helper", "persona: pirat"))

    with caplog.at_level(logging.INFO, logger="core.config.reload"):
        assert holder.reload() is False

    assert holder.current is before
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert "bots[0].persona: unknown persona 'pirat'" in record.getMessage()
    assert "\n" not in record.getMessage()


def test_warning_joins_every_issue(config_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    holder = _holder(config_path)
    config_path.write_text(
        GOOD.format(model="m\n    temperature: 9").replace("persona: helper", "persona: x")
    )

    with caplog.at_level(logging.WARNING, logger="core.config.reload"):
        holder.reload()

    [record] = caplog.records
    assert "must be at most 2; " in record.getMessage()
    assert "unknown persona 'x'" in record.getMessage()


def test_valid_edit_swaps_the_whole_config(
    config_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    holder = _holder(config_path)
    config_path.write_text(GOOD.format(model="gpt-4o"), encoding="utf-8")

    with caplog.at_level(logging.INFO, logger="core.config.reload"):
        assert holder.reload() is True

    assert holder.current.personas["helper"].model == "gpt-4o"
    [record] = caplog.records
    assert record.levelno == logging.INFO


async def test_watch_picks_up_a_change(config_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    holder = _holder(config_path)
    looks: list[object] = []
    look = holder._signature

    def counted_look() -> object:
        signature = look()
        looks.append(signature)  # only observed: the watcher's first look is what it compares
        return signature

    monkeypatch.setattr(holder, "_signature", counted_look)
    watcher = asyncio.create_task(holder.watch(interval=0.01))
    try:
        await wait_until(lambda: bool(looks), message="the watcher never looked")
        # A different size guarantees a new signature even on coarse-mtime filesystems.
        await asyncio.to_thread(config_path.write_text, GOOD.format(model="a-longer-model-name"))
        await wait_until(
            lambda: holder.current.personas["helper"].model == "a-longer-model-name",
            timeout=30,
            message="the change was not picked up",
        )
    finally:
        watcher.cancel()
    with pytest.raises(asyncio.CancelledError):
        await watcher

    assert holder.current.personas["helper"].model == "a-longer-model-name"


async def _watching(holder: ConfigHolder) -> asyncio.Task[None]:
    looked = asyncio.Event()
    look = holder._signature

    def observed_look() -> tuple[int, int] | None:
        signature = look()
        looked.set()  # only observed: the watcher's first look is what it compares
        return signature

    holder._signature = observed_look  # type: ignore[method-assign]  # observed only
    watcher = asyncio.create_task(holder.watch(interval=0.01))
    await looked.wait()
    return watcher


def _replace(path: Path, content: bytes) -> None:
    """Write as editors do, whole: the watcher must never see a half-written file."""
    fresh = path.with_suffix(".new")
    fresh.write_bytes(content)
    os.replace(fresh, path)


async def _stop(watcher: asyncio.Task[None]) -> None:
    watcher.cancel()
    with pytest.raises(asyncio.CancelledError):
        await watcher


@pytest.mark.parametrize("byte", [b"\x00", b"\x07"])
async def test_watcher_survives_a_control_character_and_takes_the_next_edit(
    config_path: Path, caplog: pytest.LogCaptureFixture, byte: bytes
) -> None:
    holder = _holder(config_path)
    watcher = await _watching(holder)
    try:
        with caplog.at_level(logging.WARNING, logger="core.config.reload"):
            await asyncio.to_thread(_replace, config_path, b"personas:\n" + byte + b"\n")
            await wait_until(lambda: bool(caplog.records), message="the bad edit was not seen")
        good = GOOD.format(model="after-the-bad-edit").encode()
        await asyncio.to_thread(_replace, config_path, good)
        await wait_until(
            lambda: holder.current.personas["helper"].model == "after-the-bad-edit",
            message="the watcher died on the bad edit",
        )
    finally:
        await _stop(watcher)
    [record] = caplog.records
    assert f"{config_path}:2: a control character" in record.getMessage()


async def test_watcher_survives_an_unexpected_failure(
    config_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    holder = _holder(config_path)
    failures = iter([RuntimeError("disk on fire")])

    def load_once_broken(*args: object, **kwargs: object) -> object:
        for failure in failures:
            raise failure
        return load_config(config_path, {})

    monkeypatch.setattr("core.config.reload.load_config", load_once_broken)
    watcher = await _watching(holder)
    try:
        with caplog.at_level(logging.WARNING, logger="core.config.reload"):
            await asyncio.to_thread(_replace, config_path, GOOD.format(model="first").encode())
            await wait_until(lambda: bool(caplog.records), message="the failure was not logged")
        second = GOOD.format(model="the-second-edit").encode()
        await asyncio.to_thread(_replace, config_path, second)
        await wait_until(
            lambda: holder.current.personas["helper"].model == "the-second-edit",
            message="the watcher died on the failure",
        )
    finally:
        await _stop(watcher)
    [record] = caplog.records
    assert "disk on fire" in record.getMessage() and record.exc_info is None


async def test_a_requested_reload_parses_off_the_event_loop(
    config_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    holder = _holder(config_path)
    parsed_on: list[int] = []

    def load_recording_thread(*args: object, **kwargs: object) -> object:
        parsed_on.append(threading.get_ident())
        return load_config(config_path, {})

    monkeypatch.setattr("core.config.reload.load_config", load_recording_thread)
    # A long interval: only the request can make this reload happen within the test.
    watcher = asyncio.create_task(holder.watch(interval=3600))
    try:
        holder.request_reload()
        await wait_until(lambda: bool(parsed_on), message="the request was not served")
    finally:
        await _stop(watcher)
    assert parsed_on == [parsed_on[0]] and parsed_on[0] != threading.get_ident()


TWO_BOTS = (
    GOOD
    + """\
  - name: {second}
    platform: console
    persona: helper
"""
)


def test_a_reload_may_rename_a_bot_that_is_not_running(config_path: Path) -> None:
    config_path.write_text(TWO_BOTS.format(model="m", second="spare"))
    holder = _holder(config_path)
    holder.hold_running({"console": "console"})
    config_path.write_text(TWO_BOTS.format(model="m", second="renamed-spare"))

    assert holder.reload() is True
    assert [bot.name for bot in holder.current.bots] == ["console", "renamed-spare"]


def test_a_reload_that_drops_several_running_bots_names_them_all(
    config_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config_path.write_text(TWO_BOTS.format(model="m", second="spare"))
    holder = _holder(config_path)
    before = holder.current
    holder.hold_running({"console": "console", "spare": "console", "team": "slack"})
    config_path.write_text(
        TWO_BOTS.format(model="m", second="team").replace("name: console", "name: solo")
    )

    with caplog.at_level(logging.INFO, logger="core.config.reload"):
        assert holder.reload() is False

    assert holder.current is before
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert record.getMessage().endswith(
        "bot 'console' (console), bot 'spare' (console), bot 'team' (slack) are running; "
        "renaming them, removing them or moving them to another platform needs a restart"
    )


def test_once_no_bot_runs_any_rename_is_taken(config_path: Path) -> None:
    holder = _holder(config_path)
    holder.hold_running({"console": "console"})
    holder.hold_running({})
    config_path.write_text(GOOD.format(model="m").replace("name: console", "name: other"))

    assert holder.reload() is True


def test_a_bot_added_by_a_reload_is_named_as_not_running(
    config_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    holder = _holder(config_path)
    holder.hold_running({"console": "console"})
    config_path.write_text(TWO_BOTS.format(model="m", second="newcomer"))

    with caplog.at_level(logging.INFO, logger="core.config.reload"):
        assert holder.reload() is True

    assert [bot.name for bot in holder.current.bots] == ["console", "newcomer"]
    assert caplog.records[-1].getMessage() == (
        "bot 'newcomer' is in the config but not running: it starts on a restart"
    )
