"""A reply's tool exchange in the store: written as calls run, settled by a restart, replayed."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

from core.context import history_turns
from core.store import Store, schema
from core.store.schema import MIGRATIONS
from core.tools.exchange import CallRecord, Exchange, RoundRecord, settle_unfinished
from core.turn.rows import never_answered
from tests.core.store.backends import SqliteDb
from tests.core.store.conftest import KEY
from tests.core.store.test_interrupted import reply


def exchange(*states: str) -> Exchange:
    calls = [
        CallRecord(f"call_{n}", f"docs__tool{n}", '{"q": 1}', state)  # type: ignore[arg-type]
        for n, state in enumerate(states)
    ]
    return Exchange([RoundRecord("Looking. ", calls)])


async def test_the_exchange_is_kept_with_the_reply_and_replayed_in_order(store: Store) -> None:
    reply_id = await reply(store, "team", "")
    done = exchange("ok", "failed")
    done.rounds[0].calls[0].result = "3 pages"
    done.rounds[0].calls[1].result = "timed out after 30 s"
    await store.record_tools(reply_id, done.to_json())
    await store.update_message(
        reply_id, content="Looking. Found 3 pages.", status="complete", token_count=9
    )
    (row,) = (await store.recent_messages(KEY, 10)).messages
    turns = history_turns(row)
    assert [(m.role, m.content, m.tool_call_id) for m in turns] == [
        ("assistant", "Looking. ", ""),
        ("tool", "3 pages", "call_0"),
        ("tool", "timed out after 30 s", "call_1"),
        ("assistant", "Found 3 pages.", ""),
    ]
    assert [c.name for c in turns[0].tool_calls] == ["docs__tool0", "docs__tool1"]


async def test_a_restart_settles_calls_left_running_or_waiting(store: Store) -> None:
    reply_id = await reply(store, "team", "")
    await store.record_tools(reply_id, exchange("ok", "running", "waiting").to_json())
    found = await store.unfinished_tool_turns(["team"], datetime.now(UTC))
    assert [(bot, key) for bot, key, _ in found] == [("team", KEY)]
    marked = await store.mark_interrupted(
        ["team"], datetime.now(UTC), "interrupted: stopped", settle_unfinished
    )
    assert marked == 1
    (row,) = (await store.recent_messages(KEY, 10)).messages
    states = [c.state for c in Exchange.from_json(row.tools).rounds[0].calls]
    assert states == ["ok", "interrupted", "denied"]
    assert row.status == "failed"
    # Its message is not answered again on a redelivery: that would run the tools again.
    assert not never_answered(row.status, row.content, row.error, row.tools)
    assert never_answered(row.status, row.content, row.error, "")
    assert await store.unfinished_tool_turns(["team"], datetime.now(UTC)) == []


def test_unreadable_exchanges_read_as_none() -> None:
    assert Exchange.from_json("not json").rounds == []
    assert Exchange.from_json('[{"text": 1}]').rounds == []
    assert settle_unfinished("") == ""


async def test_a_version_5_database_gains_the_tools_column(db_path: Path) -> None:
    db = SqliteDb(db_path)
    db_path.parent.mkdir(parents=True)
    with closing(sqlite3.connect(db_path, isolation_level=None)) as conn:
        for migration in schema.MIGRATIONS[:5]:
            for statement in migration:
                conn.execute(statement)
        conn.execute("PRAGMA user_version = 5")
        conn.execute(
            "INSERT INTO conversations VALUES (1, 'slack', 'T1', 'C1', '1700000000.000100', ?)",
            (datetime.now(UTC).isoformat(),),
        )
        conn.execute(
            "INSERT INTO messages (conversation_id, role, author_id, author_name, content,"
            " status, token_count, created_at) VALUES (1, 'assistant', 'team', 'team',"
            " 'old answer', 'complete', 2, ?)",
            (datetime.now(UTC).isoformat(),),
        )
    async with await db.open() as store:
        (row,) = (await store.recent_messages(KEY, 10)).messages
        assert (row.content, row.tools) == ("old answer", "")
    assert await db.rows("PRAGMA user_version") == [(len(MIGRATIONS),)]
