"""Model faults injected through the real openai client, and a tally of what each did to a turn.

Every conversation's first message names its fault ("first 429 persist 3"); the fake model
reads it back from the request and answers with that fault, on every attempt ("persist")
or only the first ("transient", which a retry should absorb). The next message in the
thread ("next ...") is always answered normally.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import statistics
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from bots.app import Runtime
from core.types import Author, ConversationKey, IncomingMessage
from tests.fakes.openai_server import Body, FakeOpenAI, Script
from tests.fakes.sinks import RecordingSink

# Short, so hundreds of faults take seconds; the per-attempt read timeout and the retries
# bound how long a user waits for the one message saying what went wrong.
TIMEOUT = 0.75
MAX_RETRIES = 1
BACKOFF_CEILING = 0.5 * 1.25  # core/llm.py: first backoff, with its 25% jitter at most
# The longest a fault may keep a user waiting: every attempt timing out, plus the backoff,
# plus room for a loaded 2-core machine running hundreds of turns at once.
SLACK_SECONDS = 2.5
CEILING = (MAX_RETRIES + 1) * TIMEOUT + MAX_RETRIES * BACKOFF_CEILING + SLACK_SECONDS

RETRYABLE = ("429", "500", "503", "timeout")
FINAL = ("cut", "context", "auth")
KINDS = (*RETRYABLE, *FINAL, "refused")
PARTIAL_TEXT = ("Half ", "an ", "answer")
DOWN_CHANNEL = "C0DOWN"  # its persona's provider listens on a port that refuses connections

PROVIDERS = """\
providers:
  fake: {{base_url: "{url}", api_key: "${{PARLEY_TEST_KEY}}", timeout: {timeout},
         max_retries: {retries}}}
  down: {{base_url: "{down_url}", api_key: "${{PARLEY_TEST_KEY}}", timeout: {timeout},
         max_retries: {retries}}}
"""


def providers_yaml(url: str, down_url: str) -> str:
    return PROVIDERS.format(url=url, down_url=down_url, timeout=TIMEOUT, retries=MAX_RETRIES)


def fault_script(kind: str, attempt: int) -> Script:
    """What the fake model answers for one injected fault, as the real services do."""
    stall = TIMEOUT + 0.5
    scripts = {
        "429": Script(
            status=429,
            headers={"Retry-After": "0.05"},
            error_code="rate_limit_exceeded",
            error_type="requests",
            error_message="Rate limit reached for gpt-4o-mini on requests per min (RPM).",
        ),
        "500": Script(status=500, error_message="The server had an error."),  # plain backoff
        "503": Script(status=503, headers={"retry-after-ms": "50"}, error_message="Overloaded"),
        # Before the headers, or after them but before the first token: both are silence.
        "timeout": Script(delay_before_headers=stall)
        if attempt % 2
        else Script(delay_before_first_chunk=stall),
        "cut": Script(chunks=PARTIAL_TEXT, cut_after=2),
        "context": Script(
            status=400,
            error_code="context_length_exceeded",
            error_message="This model's maximum context length is 128000 tokens.",
        ),
        "auth": Script(
            status=401, error_code="invalid_api_key", error_message="Incorrect API key provided."
        ),
    }
    return scripts[kind]


class FaultyModel:
    """The fake model's `default`: faults as each conversation's first message asks."""

    def __init__(self) -> None:
        self.injected: Counter[str] = Counter()
        # Requests the fake saw per message ("first 429 persist 3"): the retries, counted.
        self.attempts: Counter[str] = Counter()

    def __call__(self, body: Body) -> Script:
        words = _last_user_text(body).split()
        start = next(i for i, word in enumerate(words) if word in ("first", "next"))
        phase, kind, variant = words[start : start + 3]
        tag = " ".join(words[start:])
        attempt = self.attempts[tag]
        self.attempts[tag] += 1
        if phase == "first" and (variant == "persist" or attempt == 0):
            self.injected[kind] += 1
            return fault_script(kind, attempt)
        return Script(chunks=(f"fine: {tag}",), usage=(20, 3, 0))


def _last_user_text(body: Body) -> str:
    messages = body.get("messages")
    assert isinstance(messages, list)
    users = [m["content"] for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    text = users[-1]
    assert isinstance(text, str)
    return text


@dataclass(frozen=True)
class Case:
    kind: str
    variant: str  # "persist": every attempt fails; "transient": only the first
    n: int

    @property
    def tag(self) -> str:
        return f"{self.kind} {self.variant} {self.n}"

    @property
    def attempts(self) -> int:
        """Model requests its first message makes: a refused connection never reaches the
        fake, a final fault is not retried, a transient one is retried once."""
        if self.kind == "refused":
            return 0
        if self.kind in FINAL:
            return 1
        return 2 if self.variant == "transient" else MAX_RETRIES + 1

    @property
    def expected(self) -> str:
        """The turn's stored status: a retry absorbs a transient fault."""
        if self.variant == "transient":
            return "complete"
        return "partial" if self.kind == "cut" else "failed"


def cases(per_variant: int) -> list[Case]:
    made = []
    for kind in KINDS:
        variants = ("persist", "transient") if kind in RETRYABLE else ("persist",)
        made += [Case(kind, v, n) for v in variants for n in range(per_variant)]
    return made


@dataclass
class Outcome:
    case: Case
    first: RecordingSink
    seconds: float  # from the message arriving to the turn's one ending
    statuses: list[tuple[str, str]]  # (role, status) stored after the first turn
    user_stored: bool
    reply: str  # the stored reply's text after the first turn
    next_turn: RecordingSink | None = None
    next_statuses: list[tuple[str, str]] | None = None


class RefusingPort:
    """A port bound but not listening: connecting is refused until `release`."""

    def __init__(self) -> None:
        self._socket: socket.socket | None = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self.port = int(self._socket.getsockname()[1])

    def release(self) -> None:
        held, self._socket = self._socket, None
        if held is not None:
            held.close()


class Tally:
    """Counts per fault kind: faults injected, and how each turn ended."""

    def __init__(self, model: FaultyModel, outcomes: list[Outcome]) -> None:
        # Only what the fake saw; refused connections never reach it, so "refused" counts
        # no injections: its conversations' endings are the proof.
        self.injected = Counter(model.injected)
        self.endings = Counter((o.case.kind, _ending(o)) for o in outcomes)
        self.seconds: dict[str, list[float]] = {}
        for o in outcomes:
            if o.case.variant == "persist":
                self.seconds.setdefault(o.case.kind, []).append(o.seconds)

    @property
    def total(self) -> int:
        return sum(self.injected.values())

    def table(self) -> str:
        lines = [
            "| fault | injected | absorbed by retry | reached the user | stored as | "
            "wait p50 / max (s) |",
            "|---|---|---|---|---|---|",
        ]
        for kind in KINDS:
            absorbed = self.endings[(kind, "absorbed")]
            shown = {e: n for (k, e), n in self.endings.items() if k == kind and e != "absorbed"}
            waits = self.seconds.get(kind, [0.0])
            lines.append(
                f"| {kind} | {self.injected[kind]} | {absorbed} | {sum(shown.values())} | "
                f"{', '.join(f'{e} {n}' for e, n in sorted(shown.items()))} | "
                f"{statistics.median(waits):.2f} / {max(waits):.2f} |"
            )
        return "\n".join(lines)


def _ending(outcome: Outcome) -> str:
    status = outcome.statuses[-1][1]
    return "absorbed" if status == "complete" else status


def said(case: Case, phase: str, bot: str) -> IncomingMessage:
    channel = DOWN_CHANNEL if case.kind == "refused" else "C0FAULTS"
    key = ConversationKey("slack", "T0FAULTS", channel, f"{case.kind}-{case.variant}-{case.n}")
    return IncomingMessage(
        bot=bot,
        key=key,
        author=Author("U0ALICE", "Alice"),
        text=f"{phase} {case.tag}",
        message_id=f"{phase}-{case.tag}",
        workspace_name="Acme",
        channel_name="faults",
    )


async def _stored(runtime: Runtime, key: ConversationKey) -> list[tuple[str, str]]:
    history = await runtime.store.recent_messages(key, 10)
    return [(m.role, m.status) for m in history.messages]


async def first_turn(runtime: Runtime, case: Case, bot: str) -> Outcome:
    message = said(case, "first", bot)
    sink = RecordingSink()
    started = time.monotonic()
    await runtime.engine.handle(message, sink)
    seconds = time.monotonic() - started
    history = await runtime.store.recent_messages(message.key, 10)
    user_stored = any(m.role == "user" and m.content == message.text for m in history.messages)
    statuses: list[tuple[str, str]] = [(m.role, m.status) for m in history.messages]
    reply = history.messages[-1].content if history.messages else ""
    return Outcome(case, sink, seconds, statuses, user_stored, reply)


async def next_turn(runtime: Runtime, outcome: Outcome, bot: str) -> None:
    message = said(outcome.case, "next", bot)
    outcome.next_turn = RecordingSink()
    await runtime.engine.handle(message, outcome.next_turn)
    outcome.next_statuses = await _stored(runtime, message.key)


@contextlib.asynccontextmanager
async def provider_back_up(port: int, model: FaultyModel) -> AsyncIterator[FakeOpenAI]:
    """The refused provider's port starts answering, as after an outage."""
    async with FakeOpenAI(default=model, port=port) as fake:
        yield fake


async def run_faults(
    runtime: Runtime, model: FaultyModel, down: RefusingPort, per_variant: int, bot: str
) -> list[Outcome]:
    """Every case's first message at once, then, with the provider back, every next one."""
    outcomes = await asyncio.gather(*(first_turn(runtime, c, bot) for c in cases(per_variant)))
    down.release()
    async with provider_back_up(down.port, model):
        await asyncio.gather(*(next_turn(runtime, o, bot) for o in outcomes))
    return list(outcomes)


def write_config(directory: Path, url: str, down_port: int) -> Path:
    down_url = f"http://127.0.0.1:{down_port}/v1"
    path = directory / "bots.yaml"
    path.write_text(
        providers_yaml(url, down_url)
        + f"""\
personas:
  helper: {{system_prompt: "You help.", model: gpt-4o-mini, provider: fake}}
  down: {{system_prompt: "You help.", model: gpt-4o-mini, provider: down}}
bots:
  - name: team
    platform: slack
    persona: helper
    bot_token: ${{SLACK_BOT_TOKEN}}
    app_token: ${{SLACK_APP_TOKEN}}
    channels:
      {DOWN_CHANNEL}: {{persona: down}}
storage: {{path: {directory / "parley.db"}}}
"""
    )
    return path


def with_fault_providers(config: str, url: str, down_port: int) -> str:
    """A harness's bots.yaml with the fault test's providers and a `down` persona."""
    start, end = config.index("providers:\n"), config.index("personas:\n")
    down = f"http://127.0.0.1:{down_port}/v1"
    persona = '  down: {system_prompt: "You help.", model: gpt-4o-mini, provider: down}\n'
    return config[:start] + providers_yaml(url, down) + "personas:\n" + persona + config[end + 10 :]
