"""`parley run` asked to stop (SIGTERM from `docker stop`, SIGINT from Ctrl-C): it stops
listening, lets the replies in flight finish within limits.shutdown_seconds (or cuts and
marks them), closes its connections, logs one line and exits 0."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from core.turn.rows import SHUT_DOWN
from tests.e2e.processes import Parley, parley_run
from tests.e2e.slack_env import ALICE, GENERAL, slack_env, write_slack_config
from tests.e2e.test_crash import database_rows
from tests.fakes.openai_server import FakeOpenAI, Script
from tests.fakes.slack_server import FakeSlack, wait_until
from tests.fakes.slack_streams import STREAMING

__all__ = ["slack_env"]

WORDS = tuple(f"word{n} " for n in range(8))
REPLY = "".join(WORDS)


async def _mid_reply(parley: Parley, fake_slack: FakeSlack) -> str:
    """Mentions the bot and returns once the first words of its reply are shown."""
    await fake_slack.wait_connected()
    root = "1700000200.000100"
    event = {
        "type": "app_mention",
        "user": ALICE,
        "text": f"<@{fake_slack.bot_user_id}> count for me",
        "ts": root,
        "event_ts": root,
        "channel": GENERAL,
        "channel_type": "channel",
        "team": fake_slack.team_id,
    }
    await fake_slack.send_event(event, event_id="Ev0STOP0001")
    await wait_until(
        lambda: any("word0" in (m.markdown_text or "") for m in fake_slack.thread(GENERAL, root))
    )
    return root


def _parleys_lines_from(parley: Parley, first: int) -> list[str]:
    """Parley's own log lines from `first` on, but for the one line each turn logs (the
    platform libraries say what they close at INFO; ours are what an operator reads)."""
    ours = (" bots.", " core.", " cli.", " parley:")
    return [
        line
        for line in parley.lines[first:]
        if any(logger in line for logger in ours) and "core.engine: turn " not in line
    ]


@pytest.mark.usefixtures("slack_env")
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
async def test_a_reply_in_flight_finishes_before_the_process_exits_zero(
    stop: signal.Signals, tmp_path: Path, fake_slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    # A wait far longer than the reply: the reply ends on its own, and the process then.
    fake_openai.default = Script(chunks=WORDS, delay_between_chunks=0.2)
    config = write_slack_config(
        tmp_path, fake_slack, fake_openai, extra="limits: {shutdown_seconds: 120}\n"
    )
    async with parley_run(config) as parley:
        root = await _mid_reply(parley, fake_slack)
        logged = len(parley.lines)
        parley.child.send_signal(stop)
        assert await parley.exit_code() == 0
    (line,) = _parleys_lines_from(parley, logged)
    assert f"{stop.name}: stopped in" in line
    assert "1 finished, 0 cut" in line
    _, rows = database_rows(tmp_path / "data" / "parley.db")
    assert rows[-1] == ("assistant", "complete", REPLY, "")
    shown = [m.markdown_text or "" for m in fake_slack.thread(GENERAL, root)]
    assert shown[-1].strip() == REPLY.strip()
    assert parley.said("Traceback") == []


@pytest.mark.usefixtures("slack_env")
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
async def test_a_reply_longer_than_the_wait_is_cut_marked_and_the_exit_is_zero(
    stop: signal.Signals, tmp_path: Path, fake_slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    # A reply that would take minutes; the wait is a fraction of a second.
    fake_openai.default = Script(chunks=WORDS * 100, delay_between_chunks=0.5)
    config = write_slack_config(
        tmp_path, fake_slack, fake_openai, extra="limits: {shutdown_seconds: 0.2}\n"
    )
    async with parley_run(config) as parley:
        root = await _mid_reply(parley, fake_slack)
        logged = len(parley.lines)
        parley.child.send_signal(stop)
        assert await parley.exit_code() == 0
    (line,) = _parleys_lines_from(parley, logged)
    assert "0 finished, 1 cut and marked interrupted (limits.shutdown_seconds 0.2)" in line
    _, rows = database_rows(tmp_path / "data" / "parley.db")
    role, status, _, error = rows[-1]
    assert (role, status, error) == ("assistant", "partial", SHUT_DOWN)
    shown = [m.markdown_text or "" for m in fake_slack.thread(GENERAL, root)]
    assert "restarting" in shown[-1]
    # The words streamed so far stay, the notice comes once, and no stream is left open.
    assert shown[-1].startswith("word0") and shown[-1].count("restarting") == 1
    assert fake_slack.streams.started and STREAMING not in fake_slack.streams.states.values()
