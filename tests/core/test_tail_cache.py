"""The hot-thread cache stays within its bound on messages in all, not only per thread."""

from __future__ import annotations

from datetime import UTC, datetime

from core.store.records import History
from core.store.tail_cache import TailCache
from core.types import StoredMessage


def messages(first_id: int, count: int) -> list[StoredMessage]:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        StoredMessage(first_id + n, "user", "U1", "Alice", f"m{first_id + n}", "complete", 3, at)
        for n in range(count)
    ]


def test_the_least_recently_read_threads_go_when_the_total_is_reached() -> None:
    cache = TailCache(conversations=100, messages=50, total=100)
    for conversation in range(4):
        cache.put(conversation, History(tuple(messages(conversation * 1000, 30)), False))
    # 120 messages were offered: thread 0, read least recently, made room.
    assert cache.get(0, 200) is None
    assert [cache.get(c, 200) is not None for c in (1, 2, 3)] == [True, True, True]


def test_appending_past_the_total_evicts_the_coldest_thread_not_the_one_written() -> None:
    cache = TailCache(conversations=100, messages=50, total=60)
    cache.put(1, History(tuple(messages(1000, 30)), False))
    cache.put(2, History(tuple(messages(2000, 30)), False))
    cache.get(1, 200)  # thread 1 is now the most recently read
    cache.append(1, messages(1030, 5))
    assert cache.get(2, 200) is None
    history = cache.get(1, 200)
    assert history is not None and len(history.messages) == 35
