"""Hot reload: a good edit swaps the whole config, a bad one keeps the old and says why."""

from __future__ import annotations

import asyncio
import logging
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
