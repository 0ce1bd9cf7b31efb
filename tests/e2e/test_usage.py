"""`parley usage` reports exactly what the provider reported, priced from bots.yaml."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest

from bots.app import Runtime
from cli.main import main
from core.types import Author, ConversationKey, IncomingMessage
from core.usage import parse_moment
from tests.fakes.openai_server import FakeOpenAI, Script
from tests.fakes.sinks import RecordingSink

HELPER_THREAD = ConversationKey("console", "local", "parley", "usage-1")
PIRATE_THREAD = ConversationKey("slack", "T0ACME", "C0PIRATE", "1700000000.000900")


async def talk(runtime: Runtime, key: ConversationKey, bot: str, n: int) -> None:
    message = IncomingMessage(bot, key, Author("U7", "Uma"), f"question {n}", f"u{n}")
    await runtime.engine.handle(message, RecordingSink())


async def test_usage_matches_the_providers_figures_and_prices(
    runtime: Runtime, fake_openai: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_openai.enqueue(
        Script(usage=(1000, 200, 400)),  # helper (gpt-4o-mini, priced)
        Script(usage=(3000, 100, 0)),  # helper again
        Script(usage=(500, 50, 0)),  # pirate (gpt-4o, no price configured)
    )
    await talk(runtime, HELPER_THREAD, "parley", 1)
    await talk(runtime, HELPER_THREAD, "parley", 2)
    await talk(runtime, PIRATE_THREAD, "team", 3)
    config = str(runtime.config.current.source)

    assert (
        await asyncio.to_thread(
            main, ["usage", "--config", config, "--by", "persona", "--format", "json"]
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    rows = {row["group"]: row for row in report["rows"]}
    assert rows["helper"]["turns"] == 2
    assert (rows["helper"]["prompt_tokens"], rows["helper"]["cached_tokens"]) == (4000, 400)
    assert rows["helper"]["completion_tokens"] == 300
    # 3600 fresh at 0.15, 400 cached at 0.075, 300 out at 0.60, per million tokens
    assert rows["helper"]["cost"] == pytest.approx((3600 * 0.15 + 400 * 0.075 + 300 * 0.6) / 1e6)
    assert rows["helper"]["cached_share"] == 0.1
    assert rows["pirate"]["cost"] is None and rows["pirate"]["prompt_tokens"] == 500

    assert await asyncio.to_thread(main, ["usage", "--config", config, "--by", "workspace"]) == 0
    table = capsys.readouterr().out
    assert "console:local" in table and "slack:T0ACME" in table
    assert "no price" in table and "1 group(s) use a model with no price" in table

    assert (
        await asyncio.to_thread(
            main, ["usage", "--config", config, "--by", "model", "--format", "csv"]
        )
        == 0
    )
    csv_lines = capsys.readouterr().out.splitlines()
    assert csv_lines[0].startswith("group,turns,prompt_tokens")
    assert sorted(line.split(",")[0] for line in csv_lines[1:]) == ["gpt-4o", "gpt-4o-mini"]

    assert (
        await asyncio.to_thread(main, ["usage", "--config", config, "--since", "2999-01-01"]) == 0
    )
    assert "no model calls in this period" in capsys.readouterr().out


def test_periods_are_relative_or_dates() -> None:
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    assert parse_moment("7d", now) == now - timedelta(days=7)
    assert parse_moment("24h", now) == now - timedelta(hours=24)
    assert parse_moment("2026-11-01", now) == datetime(2026, 11, 1, tzinfo=UTC)
    with pytest.raises(Exception, match="not a period"):
        parse_moment("last tuesday", now)


async def test_a_provider_that_reports_no_usage_is_counted_by_parley(
    runtime: Runtime, fake_openai: FakeOpenAI
) -> None:
    fake_openai.enqueue(Script(chunks=("four words", " of reply"), usage=None))
    await talk(runtime, HELPER_THREAD, "parley", 1)

    rows = await runtime.store.ledger.usage_rows(
        parse_moment("1d", datetime.now(UTC)), datetime.now(UTC)
    )
    assert len(rows) == 1
    # The prompt as Parley counted it for the window; the reply counted by the tokenizer.
    assert rows[0].prompt_tokens > 10 and rows[0].completion_tokens == 4
    assert rows[0].cached_tokens == 0


async def test_small_costs_are_written_in_decimals(
    runtime: Runtime, fake_openai: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    """400 prompt tokens at 0.15 and 10 out at 0.60 per million: 0.000066, not 6.6e-05, in
    CSV (read by spreadsheets and people); JSON keeps a number, whatever its notation."""
    fake_openai.enqueue(Script(usage=(400, 10, 0)))
    await talk(runtime, HELPER_THREAD, "parley", 1)
    config = str(runtime.config.current.source)

    def report(fmt: str) -> str:
        argv = ["usage", "--config", config, "--by", "persona", "--format", fmt]
        assert main(argv) == 0
        return capsys.readouterr().out

    csv_text = await asyncio.to_thread(report, "csv")
    assert csv_text.splitlines()[1].endswith(",0.000066")
    assert "e-" not in csv_text
    json_text = await asyncio.to_thread(report, "json")
    assert json.loads(json_text)["rows"][0]["cost"] == pytest.approx(6.6e-05)
