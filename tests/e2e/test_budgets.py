"""Budgets end to end: real engine, real SQLite, real openai client against the fake server."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bots.config_models import config_models, load_config
from core.config import ConfigHolder
from core.engine import Engine
from core.errors import BudgetExhausted
from core.providers import ModelClients
from core.store import Store, UsageRecord
from core.tokens import Tokenizers
from core.types import Author, ConversationKey, IncomingMessage
from tests.e2e.conftest import TEST_KEY, write_config
from tests.fakes.openai_server import FakeOpenAI, Script
from tests.fakes.sinks import RecordingSink

EVENING = datetime(2026, 11, 23, 19, 0, tzinfo=UTC)
ALICE, BOB, ADA = Author("U1", "Alice"), Author("U2", "Bob"), Author("U9", "Ada")
# The fake reports 10 prompt + 2 completion tokens per call unless told otherwise.
PER_CALL = 12


class Clock:
    def __init__(self) -> None:
        self.now = EVENING

    def __call__(self) -> datetime:
        return self.now


@dataclass
class World:
    engine: Engine
    holder: ConfigHolder
    store: Store
    clock: Clock
    fake: FakeOpenAI
    database: Path
    sent: int = 0

    async def say(
        self,
        author: Author = ALICE,
        *,
        bot: str = "parley",
        workspace: str = "local",
        admin: bool = False,
    ) -> RecordingSink:
        self.sent += 1
        platform = "console" if bot == "parley" else "slack"
        key = ConversationKey(platform, workspace, "general", f"thread-{author.id}")
        message = IncomingMessage(
            bot, key, author, f"question {self.sent}", f"m{self.sent}", admin=admin
        )
        sink = RecordingSink()
        await self.engine.handle(message, sink)
        assert sink.endings == 1, sink.events
        return sink


@contextlib.asynccontextmanager
async def budgeted(directory: Path, fake: FakeOpenAI, budgets: str) -> AsyncIterator[World]:
    """Parley's parts wired as open_runtime wires them, with one hand-moved clock for all."""
    path = write_config(directory, fake.base_url)
    text = path.read_text().replace("prices:\n", "prices:\n  gpt-4o: {input: 2.5, output: 10}\n")
    path.write_text(f"{text}budgets:\n{budgets}")
    config = load_config(path)
    clock = Clock()
    models = ModelClients()
    tokenizers = Tokenizers.for_models({p.model for p in config.personas.values()})
    async with await Store.open(config.storage.path, clock=clock) as store:
        holder = ConfigHolder(path, config, platforms=config_models())
        engine = Engine(
            config=holder,
            store=store,
            models=models,
            tokenizers=tokenizers,
            clock=clock,
        )
        try:
            yield World(engine, holder, store, clock, fake, config.storage.path)
        finally:
            await models.close()


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARLEY_TEST_KEY", TEST_KEY)


async def test_a_token_budget_stops_model_calls_exactly_at_the_limit(
    tmp_path: Path, fake_openai: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    async with budgeted(tmp_path, fake_openai, f"  - {{per: user, tokens: {3 * PER_CALL}}}\n") as w:
        for _ in range(3):
            assert (await w.say()).events[-1] == "finish"
        assert len(fake_openai.requests) == 3

        caplog.set_level(logging.INFO, logger="core.engine")
        refused = await w.say()
        again = await w.say()

        assert len(fake_openai.requests) == 3  # neither message reached the model
        for sink in (refused, again):
            assert sink.events == ["fail"]  # one short note each, nothing streamed
            assert isinstance(sink.error, BudgetExhausted)
            assert sink.error.user_message == (
                "You've used your daily Parley allowance. It resets at 00:00 UTC (in 5 h)."
            )
        key = ConversationKey("console", "local", "general", "thread-U1")
        history = (await w.store.recent_messages(key, 20)).messages
        # The refused questions are kept; the reply row after each says why there is none
        # (failed rows are never replayed to the model).
        assert [(m.role, m.content, m.status) for m in history[-5:]] == [
            ("assistant", "Hello world", "complete"),
            ("user", "question 4", "complete"),
            ("assistant", "", "failed"),
            ("user", "question 5", "complete"),
            ("assistant", "", "failed"),
        ]
        assert "budget spent" in history[-1].error
        lines = [r for r in caplog.records if "budget" in r.getMessage()]
        assert [r.levelno for r in lines] == [logging.INFO, logging.INFO]
        assert "question" not in lines[0].getMessage()  # no content in the log


async def test_one_users_budget_leaves_another_user_alone(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    async with budgeted(tmp_path, fake_openai, f"  - {{per: user, tokens: {PER_CALL}}}\n") as w:
        assert (await w.say(ALICE)).events[-1] == "finish"
        assert (await w.say(ALICE)).events == ["fail"]
        assert (await w.say(BOB)).events[-1] == "finish"
        assert (await w.say(BOB)).events == ["fail"]
        assert len(fake_openai.requests) == 2


async def test_a_workspace_budget_is_shared_by_its_users_only(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    budget = f"  - {{per: workspace, period: month, tokens: {2 * PER_CALL}}}\n"
    async with budgeted(tmp_path, fake_openai, budget) as w:
        assert (await w.say(ALICE, bot="team", workspace="T1")).events[-1] == "finish"
        assert (await w.say(BOB, bot="team", workspace="T1")).events[-1] == "finish"
        refused = await w.say(ADA, bot="team", workspace="T1")
        assert refused.error is not None
        assert refused.error.user_message.startswith(
            "This workspace has used its monthly Parley allowance. It resets on 1 December"
        )
        assert (await w.say(ADA, bot="team", workspace="T2")).events[-1] == "finish"
        assert len(fake_openai.requests) == 3


async def test_a_bot_budget_counts_only_that_bots_turns(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    budget = f"  - {{per: bot, bot: team, tokens: {2 * PER_CALL}}}\n"
    async with budgeted(tmp_path, fake_openai, budget) as w:
        for _ in range(3):  # the console bot's turns do not count towards team's budget
            assert (await w.say(ALICE, bot="parley")).events[-1] == "finish"
        assert (await w.say(ALICE, bot="team", workspace="T1")).events[-1] == "finish"
        assert (await w.say(BOB, bot="team", workspace="T2")).events[-1] == "finish"
        refused = await w.say(ADA, bot="team", workspace="T3")
        assert refused.error is not None
        assert refused.error.user_message.startswith("This bot has used its daily allowance.")
        assert (await w.say(ADA, bot="parley")).events[-1] == "finish"
        assert len(fake_openai.requests) == 6


async def test_a_cost_budget_prices_each_call(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    # gpt-4o-mini: 0.15 in, 0.60 out per million; each call below costs 0.021.
    fake_openai.enqueue(*[Script(usage=(100_000, 10_000, 0))] * 3)
    async with budgeted(tmp_path, fake_openai, "  - {per: user, cost: 0.05}\n") as w:
        for _ in range(3):  # 0.021, 0.042: under; 0.063: the third call crosses the cap
            assert (await w.say()).events[-1] == "finish"
        assert isinstance((await w.say()).error, BudgetExhausted)
        assert len(fake_openai.requests) == 3


@pytest.mark.parametrize("exempt", [True, False])
async def test_admins_are_exempt_only_when_configured(
    tmp_path: Path, fake_openai: FakeOpenAI, exempt: bool
) -> None:
    budget = f"  - {{per: workspace, tokens: {PER_CALL}, admins_exempt: {str(exempt).lower()}}}\n"
    async with budgeted(tmp_path, fake_openai, budget) as w:
        assert (await w.say(ALICE)).events[-1] == "finish"
        assert (await w.say(BOB)).events == ["fail"]
        admin_turn = await w.say(ADA, admin=True)
        assert (admin_turn.events[-1] == "finish") is exempt
        assert len(fake_openai.requests) == (2 if exempt else 1)


async def test_a_new_period_lets_turns_through_again(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    budgets = (
        f"  - {{per: user, tokens: {PER_CALL}}}\n"
        f"  - {{per: bot, period: month, tokens: {3 * PER_CALL}}}\n"
    )
    async with budgeted(tmp_path, fake_openai, budgets) as w:
        assert (await w.say()).events[-1] == "finish"
        assert (await w.say()).events == ["fail"]
        w.clock.now = EVENING + timedelta(hours=4, minutes=59)
        assert (await w.say()).events == ["fail"]  # still the same day
        w.clock.now = EVENING + timedelta(hours=5)  # midnight UTC: a new day
        assert (await w.say()).events[-1] == "finish"
        assert (await w.say(BOB)).events[-1] == "finish"  # the bot's 3rd call this month
        refused = await w.say(ADA)
        assert refused.error is not None
        assert refused.error.user_message == (
            "This bot has used its monthly allowance. "
            "It resets on 1 December at 00:00 UTC (in 7 days)."
        )
        w.clock.now = datetime(2026, 12, 1, tzinfo=UTC)
        assert (await w.say(ADA)).events[-1] == "finish"
        assert len(fake_openai.requests) == 4


async def test_spend_by_another_process_is_seen_within_the_refresh(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    async with budgeted(tmp_path, fake_openai, f"  - {{per: user, tokens: {3 * PER_CALL}}}\n") as w:
        assert (await w.say()).events[-1] == "finish"
        # A second `parley chat` on the same file spends Alice's allowance.
        async with await Store.open(w.database, clock=w.clock) as other:
            key = ConversationKey("console", "local", "general", "elsewhere")
            await other.ledger.record_usage(
                UsageRecord(key, "parley", "helper", "gpt-4o-mini", "U1", 30, 0, 0)
            )
        w.clock.now += timedelta(seconds=31)
        assert (await w.say()).events == ["fail"]
        assert len(fake_openai.requests) == 1


async def test_rereading_the_usage_table_does_not_count_a_turn_twice(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    async with budgeted(tmp_path, fake_openai, f"  - {{per: user, tokens: {3 * PER_CALL}}}\n") as w:
        for _ in range(3):  # each turn after the first re-reads what the previous ones wrote
            assert (await w.say()).events[-1] == "finish"
            w.clock.now += timedelta(seconds=31)
        assert (await w.say()).events == ["fail"]
        assert len(fake_openai.requests) == 3


async def test_a_reloaded_config_applies_its_budgets_to_the_next_turn(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    async with budgeted(tmp_path, fake_openai, f"  - {{per: user, tokens: {PER_CALL}}}\n") as w:
        assert (await w.say()).events[-1] == "finish"
        assert (await w.say()).events == ["fail"]
        path = w.holder.current.source
        raised = path.read_text().replace(f"tokens: {PER_CALL}}}", f"tokens: {2 * PER_CALL}}}")
        path.write_text(raised)
        assert w.holder.reload()
        assert (await w.say()).events[-1] == "finish"  # what was spent still counts
        assert (await w.say()).events == ["fail"]
        assert len(fake_openai.requests) == 2
