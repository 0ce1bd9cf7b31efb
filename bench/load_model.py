"""The load benchmarks' fake model, in its own process: a reply that streams over a set time.

Run by bench/load.py and bench/soak.py: `python -m bench.load_model SECONDS CHUNKS`; prints its
base URL, then serves until killed. The reply says which question it answers and how many of
this conversation's earlier replies it was shown, so the driver can check order and history.
"""

from __future__ import annotations

import asyncio
import re
import sys

from tests.fakes.openai_server import Body, FakeOpenAI, Script

QUESTION = re.compile(r"\bq(\w+?)n(\d+)\b")
ANSWER = re.compile(r"\banswer (\d+) to c(\w+?) ")
PRIOR = re.compile(r"after \d+ ")


def expected_reply(conversation: str, turn: int) -> str:
    """The whole text the fake streams for turn `turn` (1-based) of `conversation`."""
    return (
        f"answer {turn} to c{conversation} after {turn - 1} replies: "
        "here is a reply of typical length, about forty tokens, so that the stored "
        "rows and the streamed edits look like a real conversation's."
    )


def whole_reply(text: str) -> tuple[str, int] | None:
    """(conversation, turn) when `text` is a reply's whole text, however many earlier
    replies it says it saw; None for part of one or anything else."""
    found, prior = ANSWER.search(text), PRIOR.search(text)
    if found is None or prior is None:
        return None
    conversation, turn = found.group(2), int(found.group(1))
    whole = expected_reply(conversation, turn).replace(f"after {turn - 1} ", prior.group(0))
    return (conversation, turn) if text == whole else None


def question(conversation: str, turn: int) -> str:
    return f"q{conversation}n{turn} what about the next point?"


def _reply_for(body: Body, seconds: float, chunks: int) -> Script:
    messages = body.get("messages")
    found: re.Match[str] | None = None
    prior = 0
    if isinstance(messages, list):
        for message in messages:
            content = message.get("content") if isinstance(message, dict) else None
            if not isinstance(content, str):
                continue
            if message.get("role") == "user":
                found = QUESTION.search(content) or found
            elif message.get("role") == "assistant" and ANSWER.search(content):
                prior += 1
    conversation, turn = (found.group(1), int(found.group(2))) if found else ("?", 0)
    text = expected_reply(conversation, turn).replace(f"after {turn - 1} ", f"after {prior} ")
    size = -(-len(text) // chunks)
    parts = tuple(text[i : i + size] for i in range(0, len(text), size))
    gap = seconds / max(len(parts) - 1, 1)
    return Script(chunks=parts, usage=(60, 40, 0), delay_between_chunks=gap)


async def serve(seconds: float, chunks: int) -> None:
    def script(body: Body) -> Script:
        return _reply_for(body, seconds, chunks)

    async with FakeOpenAI(default=script) as fake:
        print(fake.base_url, flush=True)
        while True:
            # The fake keeps every request for tests; over a long run that only costs memory.
            await asyncio.sleep(0.5)
            fake.requests.clear()
            fake.authorizations.clear()
            fake.stream_times.clear()


if __name__ == "__main__":
    asyncio.run(serve(float(sys.argv[1]), int(sys.argv[2])))
