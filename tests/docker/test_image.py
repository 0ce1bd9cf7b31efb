"""The image as an operator runs it: built from the Dockerfile with the local model, then
`parley check`, a piped `parley chat` on the bundled model, and a Slack bot (against the
fakes, over the host's loopback) that reports healthy and stops with exit 0 on `docker stop`.

Skipped where no Docker daemon answers (CI); `-m 'not docker'` leaves it out anywhere.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.e2e.slack_env import slack_env, write_slack_config
from tests.fakes.openai_server import FakeOpenAI, echo_last_user
from tests.fakes.slack_server import FakeSlack
from tests.fakes.waiting import wait_for_state

__all__ = ["slack_env"]

ROOT = Path(__file__).resolve().parents[2]
IMAGE = "parley-test:local"
BUILD_SECONDS = 1800  # a cold build downloads llama.cpp's wheel and the model
SLACK_VARIABLES = ("PARLEY_TEST_KEY", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN")


def _daemon_answers() -> bool:
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


pytestmark = [
    pytest.mark.docker,
    pytest.mark.skipif(not _daemon_answers(), reason="no Docker daemon answers `docker info`"),
]


def _docker(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", *args], input=stdin, capture_output=True, text=True, timeout=600
    )


@pytest.fixture(scope="module")
def image() -> str:
    built = subprocess.run(
        ["docker", "build", "-q", "--build-arg", "WITH_LOCAL_MODEL=true", "-t", IMAGE, "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=BUILD_SECONDS,
    )
    assert built.returncode == 0, built.stderr
    return IMAGE


def test_check_finds_the_local_model_loadable(image: str) -> None:
    done = _docker("run", "--rm", image, "parley", "check")
    assert done.returncode == 0, done.stderr
    assert "→ ready (local model)" in done.stdout


def test_chat_answers_a_piped_message_on_the_bundled_model(image: str) -> None:
    done = _docker("run", "-i", "--rm", image, "parley", "chat", stdin="Say hello.\n")
    assert done.returncode == 0, done.stderr
    _, prompt, answer = done.stdout.partition("parley>")
    assert prompt, done.stdout
    reply = answer.split("you>")[0].strip()
    assert reply and "[" not in reply[:1], done.stdout  # text, not a bracketed failure notice


@pytest.fixture
def container_name() -> Iterator[str]:
    name = f"parley-test-{uuid.uuid4().hex[:8]}"
    yield name
    _docker("rm", "-f", name)


async def _docker_async(*args: str) -> tuple[int, str]:
    # The fakes live on this test's loop: a blocking wait would starve them.
    child = await asyncio.create_subprocess_exec(
        "docker",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await child.communicate()
    return await child.wait(), out.decode(errors="replace")


async def _until_healthy(name: str) -> None:
    """Until Docker's own HEALTHCHECK (`parley health`, every second here) has passed."""

    async def healthy() -> bool:
        _, out = await _docker_async("inspect", "--format", "{{json .State.Health}}", name)
        return bool(json.loads(out).get("Status") == "healthy")

    # The guard is generous: a container's first checks wait for Parley to start.
    await wait_for_state(healthy, timeout=120, message=f"{name} healthy")


@pytest.fixture
async def slack_container(
    image: str,
    container_name: str,
    slack_env: None,
    tmp_path: Path,
    fake_slack: FakeSlack,
    fake_openai: FakeOpenAI,
) -> AsyncIterator[str]:
    fake_openai.default = echo_last_user
    config = write_slack_config(tmp_path, fake_slack, fake_openai)
    database = str(tmp_path / "data" / "parley.db")
    config.write_text(config.read_text().replace(database, "/app/data/parley.db"))
    config.chmod(0o644)
    passed = [flag for name in SLACK_VARIABLES for flag in ("-e", name)]
    code, out = await _docker_async(
        "run",
        "-d",
        "--name",
        container_name,
        "--network",
        "host",  # the fakes listen on this host's 127.0.0.1
        "--health-interval",
        "1s",
        "--health-start-period",
        "1s",
        "-v",
        f"{config}:/app/bots.yaml:ro",
        *passed,
        image,
    )
    assert code == 0, out
    yield container_name


@pytest.mark.usefixtures("slack_env")
async def test_a_slack_bot_in_the_image_is_healthy_and_stops_with_exit_zero(
    slack_container: str, fake_slack: FakeSlack
) -> None:
    await fake_slack.wait_connected()
    await asyncio.wait_for(_until_healthy(slack_container), timeout=120)
    code, said = await _docker_async("exec", slack_container, "parley", "health")
    assert (code, said.split(":")[0]) == (0, "ok"), said
    code, out = await _docker_async("stop", slack_container)
    assert code == 0, out
    _, exit_code = await _docker_async(
        "inspect", "--format", "{{.State.ExitCode}}", slack_container
    )
    assert exit_code.strip() == "0"
    _, logs = await _docker_async("logs", slack_container)
    stops = [line for line in logs.splitlines() if "SIGTERM: stopped in" in line]
    assert len(stops) == 1, logs
