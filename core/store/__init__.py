"""Parley's memory: conversations, usage and seen events, in SQLite or PostgreSQL."""

from __future__ import annotations

from core.store.erasure import FORGOTTEN_USER, Erased, Place
from core.store.records import (
    ConversationSummary,
    ExportedMessage,
    History,
    NewMessage,
    UsageRecord,
    UsageRow,
)
from core.store.schema import MIGRATIONS
from core.store.store import Store

__all__ = [
    "FORGOTTEN_USER",
    "MIGRATIONS",
    "ConversationSummary",
    "Erased",
    "ExportedMessage",
    "History",
    "NewMessage",
    "Place",
    "Store",
    "UsageRecord",
    "UsageRow",
]
