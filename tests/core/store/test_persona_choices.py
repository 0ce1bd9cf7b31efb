"""Personas picked in chat: per thread or per channel, kept across restarts, read without I/O."""

from __future__ import annotations

from dataclasses import replace

from core.store import NewMessage
from tests.core.store.backends import StoreDb
from tests.core.store.conftest import KEY

OTHER_THREAD = replace(KEY, thread="1700000000.000999")


async def test_a_thread_choice_beats_a_channel_choice_and_both_survive_a_restart(
    db: StoreDb,
) -> None:
    async with await db.open() as store:
        await store.choose_persona("bot", KEY, "pirate", whole_channel=True, chosen_by="U1")
        await store.choose_persona("bot", KEY, "lawyer", whole_channel=False, chosen_by="U1")
        assert store.chosen_persona("bot", KEY) == "lawyer"
        assert store.chosen_persona("bot", OTHER_THREAD) == "pirate"
        assert store.chosen_persona("another-bot", KEY) is None
    async with await db.open() as store:
        assert store.chosen_persona("bot", KEY) == "lawyer"
        assert store.chosen_persona("bot", OTHER_THREAD) == "pirate"
    rows = await db.rows("SELECT thread, persona, chosen_by FROM persona_choices ORDER BY 1")
    assert rows == [("", "pirate", "U1"), (KEY.thread, "lawyer", "U1")]


async def test_clearing_a_choice_returns_to_the_config(db: StoreDb) -> None:
    async with await db.open() as store:
        await store.choose_persona("bot", KEY, "pirate", whole_channel=False, chosen_by="U1")
        await store.choose_persona("bot", KEY, None, whole_channel=False, chosen_by="U1")
        assert store.chosen_persona("bot", KEY) is None
    assert await db.rows("SELECT count(*) FROM persona_choices") == [(0,)]


async def test_choosing_again_replaces_the_earlier_choice(db: StoreDb) -> None:
    async with await db.open() as store:
        await store.choose_persona("bot", KEY, "pirate", whole_channel=True, chosen_by="U1")
        await store.choose_persona("bot", KEY, "helper", whole_channel=True, chosen_by="U2")
        assert store.chosen_persona("bot", KEY) == "helper"
    assert await db.rows("SELECT persona, chosen_by FROM persona_choices") == [("helper", "U2")]


async def test_posted_messages_lead_back_to_their_conversation(db: StoreDb) -> None:
    async with await db.open() as store:
        await store.add_messages(KEY, [NewMessage("user", "U1", "Ann", "hi", "complete", 1)])
        await store.link_messages(KEY, ["9001", "9002"])
        assert await store.linked_conversation(KEY.platform, "9002") == KEY
        assert await store.linked_conversation(KEY.platform, "1234") is None
        assert await store.linked_conversation("discord", "9001") is None  # other platform
    async with await db.open() as store:
        assert await store.linked_conversation(KEY.platform, "9001") == KEY
