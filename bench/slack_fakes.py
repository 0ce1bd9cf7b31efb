"""The Slack benchmark's other process: fake Slack and fake model, timing each turn.

Driven by bench/slack_turns.py over stdin/stdout, one JSON object per line, so the fakes'
CPU time never counts as Parley's.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter
from typing import Any

from bench.streamed_reply import chunks_from_argv, reply
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_server import FakeSlack, wait_until

CHANNEL = "C0BENCH"
USER = "U0BENCH"
PLACEHOLDER = "_Thinking…_"


async def turn(
    slack: FakeSlack, model: FakeOpenAI, final_text: str, thread: str | None, n: int
) -> dict[str, Any]:
    ts = f"1700001{n:03d}.000100"
    event: dict[str, Any] = {
        "type": "app_mention" if thread is None else "message",
        "user": USER,
        "text": (f"<@{slack.bot_user_id}> " if thread is None else "") + f"question {n}",
        "ts": ts,
        "event_ts": ts,
        "channel": CHANNEL,
        "channel_type": "channel",
        "team": slack.team_id,
    }
    if thread is not None:
        event["thread_ts"] = thread
    slack.reset_calls()
    streams_before = len(model.stream_times)
    sent = time.monotonic()
    await slack.send_event(event)
    root = thread or ts
    await wait_until(lambda: _shown(slack, root) == final_text, timeout=30)
    await wait_until(lambda: len(model.stream_times) > streams_before)
    await asyncio.sleep(0.2)  # any straggling call lands in the count
    arrived, first_text, ended = model.stream_times[streams_before]
    return {
        "thread": root,
        "calls": dict(Counter(call.method for call in slack.calls)),
        # Characters of reply text sent: an edit sends the whole text again, an append only
        # what is new.
        "text_sent": sum(len(str(c.params.get("markdown_text") or "")) for c in _writes(slack)),
        "to_model_ms": (arrived - sent) * 1000,
        "first_visible_ms": (_first_text_call(slack) - first_text) * 1000,
        "final_after_end_ms": (_last_write(slack) - ended) * 1000,
    }


def _shown(slack: FakeSlack, thread: str) -> str:
    mine = [m for m in slack.thread(CHANNEL, thread) if m.user == slack.bot_user_id]
    return (mine[-1].markdown_text or "").strip() if mine else ""


# What shows a reply's text, in either streaming mode.
WRITES = frozenset(
    {"chat.postMessage", "chat.update", "chat.startStream", "chat.appendStream", "chat.stopStream"}
)


def _writes(slack: FakeSlack) -> list[Any]:
    return [c for c in slack.calls if c.method in WRITES]


def _first_text_call(slack: FakeSlack) -> float:
    return float(next(c.at for c in _writes(slack) if c.params.get("markdown_text") != PLACEHOLDER))


def _last_write(slack: FakeSlack) -> float:
    return float(_writes(slack)[-1].at)


async def main(chunks: int) -> None:
    script = reply(chunks)
    final_text = "".join(script.chunks).strip()
    async with FakeSlack() as slack, FakeOpenAI(default=script) as model:
        slack.add_user(USER, "Bench User")
        slack.add_channel(CHANNEL, "bench")
        _send(
            {
                "slack_url": slack.api_url,
                "openai_url": model.base_url,
                "bot_token": slack.bot_token,
                "app_token": slack.app_token,
            }
        )
        await slack.wait_connected(timeout=30)
        _send({"connected": True})
        loop = asyncio.get_running_loop()
        n = 0
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            command = json.loads(line)
            n += 1
            _send(await turn(slack, model, final_text, command.get("thread"), n))


def _send(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(main(chunks_from_argv(sys.argv)))
