"""`parley check` on files written to hurt it: one clear file:line error, bounded memory."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from bots.app import open_runtime
from core.config import reload
from core.config.loader import load_config
from tests.e2e.conftest import write_config
from tests.fakes.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
# The child may not grow past this; an alias bomb expanded in full needs gigabytes.
MEMORY_LIMIT = 512 * 1024 * 1024
RUN_LIMITED = f"""
import resource, runpy, sys
resource.setrlimit(resource.RLIMIT_AS, ({MEMORY_LIMIT}, {MEMORY_LIMIT}))
sys.argv[0] = "parley"
runpy.run_module("cli", run_name="__main__", alter_sys=True)
"""


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """Each level's list repeats the one before `width` times: width**levels values."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for level in range(1, levels):
        refs = ", ".join([f"*a{level - 1}"] * width)
        lines.append(f"a{level}: &a{level} [{refs}]")
    return "\n".join(lines) + "\n"


def check(path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-c", RUN_LIMITED, "check", str(path)]
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, check=False)


def test_an_alias_bomb_is_refused_with_one_line_in_bounded_memory(tmp_path: Path) -> None:
    bomb = tmp_path / "bots.yaml"
    bomb.write_text(alias_bomb())
    assert bomb.stat().st_size < 1500  # small on disk, 9**9 values once expanded

    done = check(bomb)

    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "MemoryError" not in done.stderr
    assert f"{bomb}:" in done.stderr and "expands to more than" in done.stderr


@pytest.mark.parametrize(
    ("byte", "name"), [(b"\x00", "NUL"), (b"\x07", "BEL"), (b"\x1b", "ESC"), (b"\x7f", "DEL")]
)
def test_a_control_character_is_one_line_naming_file_and_line(
    tmp_path: Path, byte: bytes, name: str
) -> None:
    config = tmp_path / "bots.yaml"
    config.write_bytes(b"personas:\n  helper:\n    model: gpt" + byte + b"-4o\n")

    done = check(config)

    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert f"{config}:3: a control character ({name}" in done.stderr


def test_a_huge_file_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    config = tmp_path / "bots.yaml"
    config.write_text("personas: {}\n" + "# padding\n" * 300_000)

    done = check(config)

    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert f"{config}: " in done.stderr and "too large" in done.stderr


async def test_sighup_with_a_bomb_parses_off_the_event_loop_and_keeps_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("PARLEY_TEST_KEY", "sk-test")
    config = write_config(tmp_path, "http://127.0.0.1:9/v1")
    parsed_on: list[int] = []

    def load_noting_the_thread(*args: object, **kwargs: object) -> object:
        parsed_on.append(threading.get_ident())
        return load_config(*args, **kwargs)  # type: ignore[arg-type]  # passed through as given

    monkeypatch.setattr(reload, "load_config", load_noting_the_thread)
    async with open_runtime(config) as runtime:
        before = runtime.config.current
        config.write_text(alias_bomb())
        with caplog.at_level(logging.WARNING, logger="core.config.reload"):
            os.kill(os.getpid(), signal.SIGHUP)
            await wait_until(lambda: bool(caplog.records), message="SIGHUP did not reload")
        assert runtime.config.current is before
    assert parsed_on and threading.get_ident() not in parsed_on
    [record] = caplog.records
    assert f"{config}:" in record.getMessage() and "expands to more than" in record.getMessage()


@pytest.mark.parametrize(
    "url",
    [
        "https://parley:hunter2-secret@models.internal/v1",
        "https://hunter2-secret@models.internal/v1",
        "https://models.internal/v1?key=hunter2-secret",
        "https://models.internal/v1?api-version=1&access_token=hunter2-secret",
        "ftp://parley:hunter2-secret@models.internal/v1",
    ],
)
def test_a_secret_in_base_url_is_refused_and_never_printed(tmp_path: Path, url: str) -> None:
    config = write_config(tmp_path, url)

    done = check(config)

    assert done.returncode == 2, done.stdout
    assert "providers.fake.base_url: must" in done.stderr
    assert "hunter2" not in done.stderr + done.stdout
