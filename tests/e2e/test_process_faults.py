"""`parley run` as a real process against platforms that are down or refuse it at start-up."""

from __future__ import annotations

import signal
import socket
from pathlib import Path

import pytest

from tests.e2e.discord_env import write_config
from tests.e2e.processes import parley_run
from tests.e2e.slack_env import slack_env, write_slack_config
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI, echo_last_user
from tests.fakes.slack_server import FakeSlack
from tests.fakes.waiting import wait_until

__all__ = ["slack_env"]

RETRYING = "cannot connect (attempt"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _discord_variables(fake: FakeDiscord, token: str | None = None) -> dict[str, str]:
    return {"PARLEY_TEST_KEY": "sk-test", "DISCORD_TOKEN": token or fake.token}


async def test_discord_down_at_start_is_retried_with_backoff_until_it_is_up(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    """A network not up yet at boot: the bot keeps trying, and serves once Discord answers."""
    fake_openai.default = echo_last_user
    async with FakeDiscord(port=free_port()) as fake:
        config = write_config(tmp_path / "bots.yaml", fake, fake_openai)
        await fake.stop()  # the port is closed now
        async with parley_run(config, **_discord_variables(fake)) as parley:
            await wait_until(lambda: len(parley.said(RETRYING)) >= 2, message="two retries")
            tried = len(parley.said(RETRYING))
            await fake.start()
            await fake.wait_ready()
            thread_starter = fake.message_create(
                fake.channel_id,
                fake.user_id,
                f"<@{fake.bot_user_id}> hi",
                mentions=[fake.bot_user_id],
            )
            await fake.dispatch("MESSAGE_CREATE", thread_starter)
            thread = str(thread_starter["id"])
            await wait_until(
                lambda: any(m.content == "echo: [Alice] hi" for m in fake.posted(thread))
            )
            parley.child.send_signal(signal.SIGTERM)
            assert await parley.exit_code() == 0
    waits = [float(line.rsplit("retrying in ", 1)[1].split()[0]) for line in parley.said(RETRYING)]
    assert tried >= 2 and waits[1] > waits[0], waits  # backing off, not hammering
    assert len(parley.said(RETRYING)) <= tried + 1  # no retry once connected


async def test_discord_wrong_token_exits_non_zero_with_one_clear_line(
    tmp_path: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI
) -> None:
    config = write_config(tmp_path / "bots.yaml", fake_discord, fake_openai)
    async with parley_run(config, **_discord_variables(fake_discord, "wrong-token")) as parley:
        assert await parley.exit_code() == 1
    (reason,) = parley.said("rejected the token")
    assert "DISCORD_TOKEN" in reason
    assert parley.said(RETRYING) == []
    assert parley.said("Traceback") == []


async def test_discord_gateway_refusing_the_token_exits_non_zero_with_one_clear_line(
    tmp_path: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI
) -> None:
    """The REST login passes but the gateway closes with 4004 (authentication failed)."""
    fake_discord.gateway.token = "another-token"
    config = write_config(tmp_path / "bots.yaml", fake_discord, fake_openai)
    async with parley_run(config, **_discord_variables(fake_discord)) as parley:
        assert await parley.exit_code() == 1
    (reason,) = parley.said("rejected the token")
    assert "DISCORD_TOKEN" in reason
    assert parley.said(RETRYING) == []
    assert parley.said("Traceback") == []


def _slack_variables(fake: FakeSlack, token: str | None = None) -> dict[str, str]:
    return {
        "PARLEY_TEST_KEY": "sk-test",
        "SLACK_BOT_TOKEN": token or fake.bot_token,
        "SLACK_APP_TOKEN": fake.app_token,
    }


@pytest.mark.usefixtures("slack_env")
async def test_slack_down_at_start_is_retried_and_sigterm_still_exits_zero(
    tmp_path: Path, fake_slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    config = write_slack_config(tmp_path, fake_slack, fake_openai)
    variables = _slack_variables(fake_slack)
    await fake_slack.stop()  # the port is closed now
    async with parley_run(config, **variables) as parley:
        await wait_until(lambda: len(parley.said(RETRYING)) >= 2, message="two retries")
        parley.child.send_signal(signal.SIGTERM)
        assert await parley.exit_code() == 0


@pytest.mark.usefixtures("slack_env")
async def test_slack_wrong_token_exits_non_zero_with_one_clear_line(
    tmp_path: Path, fake_slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    config = write_slack_config(tmp_path, fake_slack, fake_openai)
    async with parley_run(config, **_slack_variables(fake_slack, "xoxb-wrong")) as parley:
        assert await parley.exit_code() == 1
    (reason,) = parley.said("invalid_auth")
    assert "SLACK_BOT_TOKEN" in reason
    assert parley.said(RETRYING) == []
    assert parley.said("Traceback") == []


@pytest.mark.usefixtures("slack_env")
async def test_slack_answering_503_at_start_is_retried_until_it_connects(
    tmp_path: Path, fake_slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    """Slack down (5xx) rather than unreachable: the same backoff, counted at the fake."""
    config = write_slack_config(tmp_path, fake_slack, fake_openai)
    fake_slack.fail_next("auth.test", status=503, times=6)  # slack_sdk tries 3 times an attempt
    async with parley_run(config, **_slack_variables(fake_slack)) as parley:
        await wait_until(lambda: fake_slack.connections >= 1, message="a Socket Mode connection")
        assert len(fake_slack.calls_to("auth.test")) == 7
        assert len(parley.said(RETRYING)) == 2
        parley.child.send_signal(signal.SIGTERM)
        assert await parley.exit_code() == 0


@pytest.mark.usefixtures("slack_env")
async def test_one_bot_refused_the_other_serves_and_the_process_stays_up(
    tmp_path: Path, fake_slack: FakeSlack, fake_discord: FakeDiscord, fake_openai: FakeOpenAI
) -> None:
    """Non-zero is for no bot left: a wrong Discord token beside a working Slack bot is one
    line, and `parley run` keeps serving Slack until SIGTERM, then exits 0."""
    discord_bot = (
        "  - name: disco\n    platform: discord\n    persona: helper\n"
        "    token: ${DISCORD_TOKEN}\n"
        f'    api_base_url: "{fake_discord.api_url}"\n'
        f'    gateway_url: "{fake_discord.gateway_url}"\n'
    )
    config = write_slack_config(tmp_path, fake_slack, fake_openai, extra=discord_bot)
    variables = {**_slack_variables(fake_slack), "DISCORD_TOKEN": "wrong-token"}
    async with parley_run(config, **variables) as parley:
        await wait_until(lambda: fake_slack.connections >= 1, message="Slack connected")
        await wait_until(lambda: bool(parley.said("rejected the token")), message="disco refused")
        assert parley.child.returncode is None
        assert parley.said("no bot is running") == []
        parley.child.send_signal(signal.SIGTERM)
        assert await parley.exit_code() == 0
    assert len(parley.said("rejected the token")) == 1


# Parley runs in a child process: a socket this process leaves is the fake's own, when
# discord.py's reconnect reaches it while it stops (aiohttp closes such late accepts
# unreliably), and says nothing of Parley.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
async def test_discord_gone_mid_run_and_back_is_served_again(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    """After start-up discord.py reconnects by itself; the start-up retry must not get in
    its way, and the process must not exit while Discord is away."""
    fake_openai.default = echo_last_user
    async with FakeDiscord(port=free_port()) as fake:
        config = write_config(tmp_path / "bots.yaml", fake, fake_openai)
        async with parley_run(config, **_discord_variables(fake)) as parley:
            await fake.wait_ready()
            identified = fake.identify_count + fake.resume_count
            await fake.stop()
            await fake.start()
            await wait_until(lambda: fake.identify_count + fake.resume_count > identified)
            starter = fake.message_create(
                fake.channel_id,
                fake.user_id,
                f"<@{fake.bot_user_id}> back?",
                mentions=[fake.bot_user_id],
            )
            await fake.dispatch("MESSAGE_CREATE", starter)
            thread = str(starter["id"])
            await wait_until(
                lambda: any(m.content == "echo: [Alice] back?" for m in fake.posted(thread))
            )
            parley.child.send_signal(signal.SIGTERM)
            assert await parley.exit_code() == 0
