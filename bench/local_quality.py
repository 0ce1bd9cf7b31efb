"""How a persona behaves on the bundled model: replies cut by max_tokens, loops, language drift.

Run: .venv/bin/python -m bench.local_quality CONFIG [CONFIG ...] [--persona local-helper]

Each CONFIG's persona (with its provider) answers 20 everyday questions through Parley's
engine, each in a fresh thread, then all 20 in one continued thread, where a French question
is followed by English ones. The seed is fixed (--seed) so that runs compare: the same config
gives the same replies. Give the config before a change and after it to compare them, e.g.

    git show main:bots.yaml > /tmp/before.yaml
    .venv/bin/python -m bench.local_quality /tmp/before.yaml bots.yaml

A reply "hit max_tokens" when the server counted max_tokens generated tokens; it "loops" when
one sentence or line (digits ignored, so `s[::-2]` … `s[::-9]` count as one) comes 3+ times;
it is in the "wrong language" when its French and English stopwords say the other language
than the question's (replies with too few stopwords to tell are not counted).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bots.app import Runtime, open_runtime
from core.types import (
    ApprovalRequest,
    ApprovalSettled,
    Author,
    ConversationKey,
    IncomingMessage,
    ToolStep,
    TurnSummary,
)

# (language, question); the order is the continued thread's.
QUESTIONS = (
    ("en", "What is a good name for a cat?"),
    ("en", "How do I reverse a string in Python?"),
    ("en", "Tell me a story about curiosity."),
    ("en", "Name three fruits."),
    ("fr", "Comment puis-je mieux dormir la nuit ?"),
    ("en", "How do I boil an egg?"),
    ("en", "Why is the sky blue?"),
    ("en", "Give me a tip for writing clear emails."),
    ("en", "What should I pack for a weekend hiking trip?"),
    ("en", "How many minutes are in a day?"),
    ("en", "Suggest a quick vegetarian dinner."),
    ("en", "Write a haiku about autumn."),
    ("en", "How can I stay focused while studying?"),
    ("en", "What does a CPU do?"),
    ("en", "Count from 1 to 10."),
    ("en", "What is photosynthesis?"),
    ("en", "Explain a list comprehension in Python."),
    ("en", "How do I politely decline a meeting?"),
    ("en", "What are three benefits of walking every day?"),
    ("en", "Summarize Romeo and Juliet in two sentences."),
)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


FRENCH = _words(
    "le la les des du une et est pour que qui dans vous je il elle nous pas sur avec ce "
    "cette au aux votre vos mais très être avoir sont peut faire ne se leur"
)
ENGLISH = _words(
    "the and is are to of that it you for with this be your can was have not but what "
    "how they will from at by an which"
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")


@dataclass(frozen=True)
class Reply:
    language: str
    text: str
    tokens: int
    seconds: float
    failed: str | None


class QuietSink:
    """Keeps the reply; the bench shows nothing while it runs."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.summary: TurnSummary | None = None
        self.error: Exception | None = None

    @property
    def shown(self) -> str:
        return "".join(self.parts)

    async def say(self, text: str) -> None:
        pass  # the bench sends questions, never commands

    async def start(self) -> None: ...

    async def append(self, text: str) -> None:
        self.parts.append(text)

    async def finish(self, summary: TurnSummary) -> None:
        self.summary = summary

    async def fail(self, error: Exception) -> None:
        self.error = error

    async def step(self, step: ToolStep) -> None:
        pass  # the bench persona has no tools

    async def ask_approval(self, request: ApprovalRequest) -> None:
        raise AssertionError("the bench persona has no tools")

    async def approval_settled(self, settled: ApprovalSettled) -> None:
        raise AssertionError("the bench persona has no tools")


def loops(text: str) -> bool:
    """One sentence or line, digits ignored, 3 or more times."""
    seen: Counter[str] = Counter()
    for sentence in _SENTENCE_END.split(text):
        shape = re.sub(r"\d+", "#", " ".join(sentence.lower().split())).strip(" .!?,;:")
        if sum(char.isalpha() for char in shape) >= 4:
            seen[shape] += 1
    return bool(seen) and max(seen.values()) >= 3


def language_of(text: str) -> str | None:
    """'fr' or 'en' by stopwords, or None when there are too few to tell."""
    words = [word.lower() for word in _WORD.findall(text)]
    french = sum(word in FRENCH for word in words)
    english = sum(word in ENGLISH for word in words)
    if max(french, english) < 3 or french == english:
        return None
    return "fr" if french > english else "en"


def bench_config(path: Path, persona_name: str, seed: int, scratch: Path) -> Path:
    """A config with only `persona_name`, its provider, the seed, and one console bot."""
    source: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    persona = dict(source["personas"][persona_name])
    provider_name = persona.get("provider", "openai")
    provider = dict((source.get("providers") or {}).get(provider_name) or {})
    if "model_path" in provider:  # relative to the original file, as Parley reads it
        provider["model_path"] = str(path.parent / Path(provider["model_path"]).expanduser())
    persona["seed"] = seed
    config = {
        "providers": {provider_name: provider},
        "personas": {persona_name: persona},
        "bots": [{"name": "quality", "platform": "console", "persona": persona_name}],
        "storage": {"path": str(scratch / "parley.db")},
    }
    written = scratch / "bots.yaml"
    written.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return written


async def ask(runtime: Runtime, thread: str, language: str, text: str, n: int) -> Reply:
    sink = QuietSink()
    key = ConversationKey("console", "local", "quality", thread)
    message = IncomingMessage("quality", key, Author("u1", "Ada"), text, f"m{n}")
    started = time.perf_counter()
    await runtime.engine.handle(message, sink)
    usage = sink.summary.usage if sink.summary else None
    failed = str(sink.error) if sink.error else None
    return Reply(
        language,
        sink.shown,
        usage.completion_tokens if usage else 0,
        time.perf_counter() - started,
        failed,
    )


async def run_config(path: Path, persona: str, seed: int) -> dict[str, tuple[list[Reply], int]]:
    """Replies in fresh threads and in one continued thread, with the persona's max_tokens."""
    with tempfile.TemporaryDirectory() as scratch:
        config = bench_config(path, persona, seed, Path(scratch))
        async with open_runtime(config) as runtime:
            max_tokens = runtime.config.current.personas[persona].max_tokens
            await ask(runtime, "warm-up", "en", "Hello!", 0)  # starts the server
            fresh = [
                await ask(runtime, f"fresh-{i}", language, text, i + 1)
                for i, (language, text) in enumerate(QUESTIONS)
            ]
            continued = [
                await ask(runtime, "continued", language, text, 100 + i)
                for i, (language, text) in enumerate(QUESTIONS)
            ]
    return {"fresh": (fresh, max_tokens), "continued": (continued, max_tokens)}


def row(label: str, mode: str, replies: list[Reply], max_tokens: int) -> str:
    cut = sum(reply.tokens >= max_tokens for reply in replies)
    looped = sum(loops(reply.text) for reply in replies)
    drifted = sum(language_of(reply.text) not in (None, reply.language) for reply in replies)
    failed = sum(reply.failed is not None for reply in replies)
    tokens = statistics.median(reply.tokens for reply in replies)
    seconds = sum(reply.seconds for reply in replies)
    return (
        f"| {label} | {mode} | {len(replies)} | {cut} | {looped} | {drifted} | {failed} "
        f"| {tokens:.0f} | {max(r.tokens for r in replies)} | {seconds:.1f} |"
    )


def show(replies: list[Reply], max_tokens: int) -> None:
    for (_, question), reply in zip(QUESTIONS, replies, strict=True):
        flags = [
            name
            for name, hit in (
                ("max_tokens", reply.tokens >= max_tokens),
                ("loops", loops(reply.text)),
                ("language", language_of(reply.text) not in (None, reply.language)),
                ("failed", reply.failed is not None),
            )
            if hit
        ]
        text = " ".join(reply.text.split())
        print(f"  [{','.join(flags) or 'ok'}] {question} -> {text[:150]!r}", file=sys.stderr)


async def main(configs: list[Path], persona: str, seed: int, details: bool) -> None:
    lines = [
        "| config | threads | replies | hit max_tokens | loops (sentence 3+) "
        "| wrong language | failed | median tokens | most tokens | seconds |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for path in configs:
        for mode, (replies, max_tokens) in (await run_config(path, persona, seed)).items():
            lines.append(row(str(path), mode, replies, max_tokens))
            if details:
                print(f"{path} {mode}:", file=sys.stderr)
                show(replies, max_tokens)
    print(f"persona {persona}, seed {seed}, {len(QUESTIONS)} questions")
    print("\n".join(lines))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("configs", nargs="+", type=Path, help="bots.yaml files to compare")
    parser.add_argument("--persona", default="local-helper")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--details", action="store_true", help="each reply, flagged, on stderr")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.configs, arguments.persona, arguments.seed, arguments.details))
