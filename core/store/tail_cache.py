"""The newest messages of hot conversations in memory, kept in step with every store write.

A follow-up turn then reads its history without a trip to SQLite. Every write of this process
passes through the store, which keeps the cache in step; a commit by another connection
(`parley forget`) makes the store drop the cache (see Store._sync_caches).
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

from core.store.records import History
from core.types import MessageStatus, StoredMessage

CONVERSATIONS = 1024  # hot threads kept; a cold one costs one query, as without the cache
MESSAGES = 256  # per conversation: more than the default history limit of 200
# In all: without it 1,024 full tails hold ~180 MB; a 5-minute soak over 1,000 threads grew
# RSS 3 MB a minute filling them (bench.soak). ~0.7 KB a message: ~12 MB.
TOTAL_MESSAGES = 16_384


@dataclass(slots=True)
class _Tail:
    messages: list[StoredMessage]  # oldest first
    complete: bool  # holds the whole conversation, so nothing older exists


class TailCache:
    def __init__(
        self,
        conversations: int = CONVERSATIONS,
        messages: int = MESSAGES,
        total: int = TOTAL_MESSAGES,
    ) -> None:
        self._max_conversations = conversations
        self._max_messages = messages
        self._max_total = total
        self._tails: OrderedDict[int, _Tail] = OrderedDict()
        self._owner: dict[int, int] = {}  # message id -> conversation id, for updates

    def get(self, conversation: int, limit: int) -> History | None:
        """The newest `limit` messages, if the cache can answer exactly; else None."""
        tail = self._tails.get(conversation)
        if tail is None:
            return None
        self._tails.move_to_end(conversation)
        if len(tail.messages) > limit:
            return History(tuple(tail.messages[len(tail.messages) - limit :]), True)
        if tail.complete:
            return History(tuple(tail.messages), False)
        return None

    def put(self, conversation: int, history: History) -> None:
        """What a query just read; kept only if it fits, since a cut tail cannot answer."""
        if len(history.messages) > self._max_messages:
            return
        self.drop(conversation)
        self._tails[conversation] = _Tail(list(history.messages), not history.more_before)
        self._owner.update((m.id, conversation) for m in history.messages)
        self._evict()

    def append(self, conversation: int, messages: Iterable[StoredMessage]) -> None:
        tail = self._tails.get(conversation)
        if tail is None:
            return  # not hot: the next read loads it
        for message in messages:
            tail.messages.append(message)
            self._owner[message.id] = conversation
        while len(tail.messages) > self._max_messages:
            self._owner.pop(tail.messages.pop(0).id, None)
            tail.complete = False
        self._evict()

    def update_tools(self, message_id: int, tools: str) -> None:
        conversation = self._owner.get(message_id)
        tail = self._tails.get(conversation) if conversation is not None else None
        for index, message in enumerate(tail.messages if tail is not None else ()):
            if message.id == message_id:
                assert tail is not None
                tail.messages[index] = dataclasses.replace(message, tools=tools)
                return

    def _evict(self) -> None:
        # Least recently read first; _owner holds one entry per cached message.
        while len(self._tails) > self._max_conversations or (
            len(self._owner) > self._max_total and len(self._tails) > 1
        ):
            self.drop(next(iter(self._tails)))

    def update(
        self,
        message_id: int,
        *,
        content: str,
        status: MessageStatus,
        token_count: int,
        error: str,
        platform_message_id: str | None,
        tools: str | None = None,
    ) -> None:
        conversation = self._owner.get(message_id)
        tail = self._tails.get(conversation) if conversation is not None else None
        for index, message in enumerate(tail.messages if tail is not None else ()):
            if message.id == message_id:
                assert tail is not None
                tail.messages[index] = dataclasses.replace(
                    message,
                    content=content,
                    status=status,
                    token_count=token_count,
                    error=error,
                    platform_message_id=(
                        message.platform_message_id
                        if platform_message_id is None
                        else platform_message_id
                    ),
                    tools=message.tools if tools is None else tools,
                )
                return

    def revise(self, message_id: int, *, author_name: str, content: str, token_count: int) -> None:
        conversation = self._owner.get(message_id)
        tail = self._tails.get(conversation) if conversation is not None else None
        for index, message in enumerate(tail.messages if tail is not None else ()):
            if message.id == message_id:
                tail.messages[index] = dataclasses.replace(  # type: ignore[union-attr]  # tail is set when the loop runs
                    message, author_name=author_name, content=content, token_count=token_count
                )
                return

    def drop(self, conversation: int) -> None:
        tail = self._tails.pop(conversation, None)
        for message in tail.messages if tail is not None else ():
            self._owner.pop(message.id, None)
