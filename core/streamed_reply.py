"""One attempt's reply as its stream's chunks come: the text the user may see, the tool calls
the model asks for, the end and the usage, as ModelEvents."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator

from core.chunks import DONE, Chunk, MalformedChunk, parse_chunk
from core.model_events import REPLY_ENDED, ModelEvent, TextDelta, ToolCallsRequested
from core.model_http import StreamedError
from core.think import ThinkFilter
from core.tool_call_deltas import ToolCallAssembler
from core.types import Usage

log = logging.getLogger("core.llm")  # its warnings are the model client's

# What reading the chunks can raise: the client turns each into a Parley error.
PARSE_ERRORS = (StreamedError, MalformedChunk, json.JSONDecodeError)


class StreamedReply:
    """What one attempt has gathered from the chunks so far."""

    def __init__(self, think: ThinkFilter, learn: Callable[[ThinkFilter, str], None]) -> None:
        self.think = think
        self.usage: Usage | None = None
        self.finished = False  # the model said so: any text after it is not the reply's
        self.done = False  # [DONE] came
        self.events = 0
        self._learn = learn
        self._shown: list[str] = []  # to learn whether the model reasons bare
        self.usage_said: Usage | None = None
        self._ended_said = False
        self._doubted_usage = False
        self._calls: ToolCallAssembler | None = None  # made by the first tool call piece
        self._requested: ToolCallsRequested | None = None

    def read(self, events: list[str]) -> Iterator[ModelEvent]:
        """What the user may see of these events' chunks, as one TextDelta, then ReplyEnded
        if one of them finished the reply. A bad chunk raises after the text before it, so
        the error counts as a cut reply, not one to run again."""
        texts: list[str] = []
        failure: BaseException | None = None
        try:
            for data in events:
                if data == DONE:
                    self.done = True
                    break
                self.events += 1
                self._take(parse_chunk(data), texts)
        except PARSE_ERRORS as bad:
            failure = bad
        yield from self._said("".join(texts))
        if failure is not None:
            raise failure

    def read_body(self, chunk: Chunk) -> list[ModelEvent]:
        texts: list[str] = []
        self._take(chunk, texts)
        return self._said("".join(texts))

    def _take(self, chunk: Chunk, texts: list[str]) -> None:
        """Adds the chunk's visible text; an error the server sent raises in its own words."""
        if chunk.error is not None:
            raise StreamedError(chunk.error)
        if chunk.bad_usage and not self._doubted_usage:
            # Once per reply: some servers repeat usage on every chunk. Parley then counts
            # the turn with its own tokenizer, as for a server that reports none.
            self._doubted_usage = True
            log.warning("model usage not believable, counted by Parley: %s", chunk.bad_usage)
        self.usage = chunk.usage or self.usage
        if self.finished:
            return
        if chunk.tool_calls is not None:
            if self._calls is None:
                self._calls = ToolCallAssembler()
            self._calls.add(chunk.tool_calls)
        visible = self.think.feed(chunk.text)
        if chunk.finished:
            visible += self.think.flush()
        self._shown.append(visible)
        texts.append(visible)
        if chunk.finished:
            self._finish()

    def _finish(self) -> None:
        """The model said it is done: its tool calls are whole now, whatever the reason it
        gave ("tool_calls", or "stop" from servers that say that with calls too)."""
        if self._calls:
            # Before `finished`: a nameless call fails the reply, which then never ended.
            self._requested = ToolCallsRequested(self._calls.calls())
        self.finished = True
        self._learn(self.think, "".join(self._shown))

    def _said(self, text: str) -> list[ModelEvent]:
        events: list[ModelEvent] = [TextDelta(text)] if text else []
        if self.finished and not self._ended_said:
            self._ended_said = True
            if self.usage is not None:
                # Known already (a non-streamed answer, a server that sends it with the
                # finish_reason): said with the end, so the finished reply can carry it.
                self.usage_said = self.usage
                events.append(self.usage)
            if self._requested is not None:
                events.append(self._requested)
            events.append(REPLY_ENDED)
        return events
