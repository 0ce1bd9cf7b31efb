"""Parley's SQLite memory: messages per conversation, usage records and seen events."""

from __future__ import annotations

from core.store.connection import probe_writable
from core.store.records import History, NewMessage, UsageRecord, UsageRow
from core.store.schema import MIGRATIONS
from core.store.store import Store

__all__ = [
    "MIGRATIONS",
    "History",
    "NewMessage",
    "Store",
    "UsageRecord",
    "UsageRow",
    "probe_writable",
]
