"""What a model client yields while it streams a reply, and the port every client implements.

Apart from core.llm so that the turn can name them without loading the model client, which
`parley run` imports only once its bots are connected.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Protocol

from core.model_request import ModelRequest
from core.tools.calls import ToolCall
from core.types import Usage


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ReplyEnded:
    """The model said its reply is whole (its finish_reason): no text follows, only the
    usage figures, so the reply can be shown final without waiting for them."""


@dataclass(frozen=True, slots=True)
class ToolCallsRequested:
    """The model ended this round asking for tools (finish_reason "tool_calls"): every call
    it streamed, assembled, in its order. Comes just before ReplyEnded."""

    calls: tuple[ToolCall, ...]


REPLY_ENDED = ReplyEnded()
ModelEvent = TextDelta | ToolCallsRequested | ReplyEnded | Usage


class ModelClient(Protocol):
    """Streams one reply: TextDeltas, ToolCallsRequested if the model asked for tools,
    ReplyEnded when the model has finished it (clients that
    cannot tell leave it out), then one Usage when the server reports it."""

    def stream(self, request: ModelRequest) -> AsyncGenerator[ModelEvent, None]: ...

    async def close(self) -> None: ...
