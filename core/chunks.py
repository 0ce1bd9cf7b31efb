"""Chat Completions stream chunks, read straight from their Server-Sent Events lines.

The openai SDK builds a pydantic object for every chunk, tens of times the cost of the
plain JSON, and every other conversation waits on the event loop meanwhile; so Parley reads
the few fields it uses (and, since core/model_http.py, the stream itself).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from core.errors import ReplyCut
from core.types import Usage

DONE = "[DONE]"
_SSE_FIELDS = frozenset({"data", "event", "id", "retry"})
# A body that is not a stream is kept to be read whole: enough for a long non-streamed
# answer, bounded so a runaway page cannot fill memory.
_MOST_BODY_CHARS = 1_000_000
# Far beyond any model's window; a bigger figure is a broken server, and SQLite's integers
# end at 2**63 anyway.
_MOST_TOKENS = 100_000_000
_MOST_DESCRIBED = 4_000
# `[^<>]`: a page of unclosed tags costs one pass, not one per tag.
_TAG = re.compile(r"<[^<>]*>")
# The longest SSE line read: a real chunk is a few hundred characters, a proxy that sends a
# whole reply as one chunk tens of thousands. Past this the line is refused before it is
# all in memory (httpx's aiter_lines would hold a line without end whole).
MAX_LINE_CHARS = 1_000_000
# SSE's line ends, and only those: JSON strings may hold a raw U+2028, which splitlines cuts.
_LINE_END = re.compile(r"\r\n|\r|\n")


class MalformedChunk(ValueError):
    """A data line that is not a Chat Completions chunk."""


@dataclass(frozen=True, slots=True)
class Chunk:
    text: str
    finished: bool  # a choice gave its finish_reason, or the choice-less usage chunk came
    usage: Usage | None
    error: dict[str, Any] | None  # an error the server sent inside the stream
    bad_usage: str = ""  # usage figures that were reported but could not be believed
    # The pieces of tool calls, as sent (checked by core.tool_call_deltas); None: none.
    tool_calls: list[Any] | None = None


class EventReader:
    """Joins SSE lines into event data; an event ends at a blank line.

    Lines that are no SSE at all are kept (`stray`): a server that ignored stream: true,
    or a proxy's error page, answers with a plain body, and its words are the diagnosis.
    """

    def __init__(self) -> None:
        self._data: list[str] = []
        self._stray: list[str] = []
        self._stray_chars = 0

    @property
    def stray(self) -> str:
        return "\n".join(self._stray)

    def feed(self, line: str) -> str | None:
        """The finished event's data, when `line` ends one."""
        if not line:
            return self.end()
        if line.startswith(":"):
            return None  # a comment: some servers send them as keep-alives
        field, colon, value = line.partition(":")
        if field == "data":
            self._data.append(value[1:] if value.startswith(" ") else value)
        elif not colon or field not in _SSE_FIELDS:
            self._keep_stray(line)
        return None

    def feed_lines(self, lines: list[str]) -> list[str]:
        """The data of every event these lines finished, in order."""
        finished = []
        for line in lines:
            data = self.feed(line)
            if data is not None:
                finished.append(data)
        return finished

    def end(self) -> str | None:
        """Whatever event the stream ended in the middle of."""
        if not self._data:
            return None
        data, self._data = "\n".join(self._data), []
        return data

    def _keep_stray(self, line: str) -> None:
        room = _MOST_BODY_CHARS - self._stray_chars
        if room > 0:
            self._stray.append(line[:room])
            self._stray_chars += min(len(line), room) + 1


class LineSplitter:
    """Cuts the body's text into SSE lines without their ends, as it comes, piece by piece.

    A plain object, not an async generator: the stream is read in one loop that handles all
    the chunks of one network read in one go, and every generator layer between the socket
    and the reply costs a pass per read.
    """

    def __init__(self, limit: int = MAX_LINE_CHARS) -> None:
        self._limit = limit
        self._parts: list[str] = []  # the line being read, in the pieces it came in
        self._size = 0
        self._after_cr = False  # the last piece ended in "\r": a "\n" next is its pair

    def feed(self, piece: str) -> list[str]:
        """The lines this piece completed; a line past the limit raises ReplyCut."""
        if self._after_cr and piece:
            # A "\r" at a piece's end ended its line at once (a server may end its events
            # with bare CRs and then pause): the "\n" of a split "\r\n" is no new line.
            self._after_cr = False
            piece = piece[1:] if piece.startswith("\n") else piece
        if "\n" not in piece and "\r" not in piece:
            self._hold(piece)
            return []
        buffer = "".join(self._parts) + piece if self._parts else piece
        *lines, rest = _LINE_END.split(buffer)
        self._after_cr = buffer.endswith("\r")
        self._parts, self._size = [], 0
        self._hold(rest)
        return lines

    def end(self) -> list[str]:
        """The lines left when the body ended, the last one unterminated."""
        *lines, rest = _LINE_END.split("".join(self._parts))
        self._parts, self._size = [], 0
        return [*lines, rest] if rest else lines

    def _hold(self, part: str) -> None:
        if part:
            self._parts.append(part)
            self._size += len(part)
        if self._size > self._limit:
            raise ReplyCut(f"the provider sent a stream line over {self._limit} characters")


def parse_chunk(data: str) -> Chunk:
    payload = _json_object(data)
    error = payload.get("error")
    if error:
        return Chunk("", False, None, error if isinstance(error, dict) else {"message": error})
    usage, bad_usage = _usage(payload.get("usage"))
    choices = payload.get("choices") or []
    if not isinstance(choices, list):
        raise MalformedChunk(f"choices is not a list: {data[:200]!r}")
    text: list[str] = []
    # Some servers repeat usage on every chunk: only the choice-less one closes the reply.
    finished = usage is not None and not choices
    calls: list[Any] | None = None
    for choice in choices:
        # _field's checks inline: this loop runs for every chunk of every reply.
        if not isinstance(choice, dict):
            raise MalformedChunk(f"a choice is not an object: {data[:200]!r}")
        delta = choice.get("delta")
        finished = finished or bool(choice.get("finish_reason"))
        text.append(_text(delta, "delta", data))
        # `delta` is an object or None once _text has passed it.
        if delta and "tool_calls" in delta:
            calls = _tool_calls(delta["tool_calls"], calls, data)
    return Chunk("".join(text), finished, usage, None, bad_usage, calls)


def parse_body(body: str) -> Chunk:
    """A whole response that was no stream: an error object, a non-streamed completion
    (taken as the answer), or anything else, which is described in the error."""
    if body.lstrip().startswith(("{", "[")):
        payload = _json_object(body)
        error = payload.get("error")
        if error:
            return Chunk("", False, None, error if isinstance(error, dict) else {"message": error})
        if "choices" in payload:
            return _completion(payload, body)
    # Its start is enough to say what it is, and keeps the tag search short.
    words = " ".join(_TAG.sub(" ", body[:_MOST_DESCRIBED]).split())
    kind = "an HTML page" if "<html" in body[:1000].lower() else "a body that is no stream"
    raise MalformedChunk(f"the provider answered with {kind}: {words[:300]!r}")


def _completion(payload: dict[str, Any], body: str) -> Chunk:
    choices = payload.get("choices")
    if not isinstance(choices, list) or not choices:
        raise MalformedChunk(f"a completion without choices: {body[:200]!r}")
    message = _field(choices[0], "message", body)
    usage, bad_usage = _usage(payload.get("usage"))
    text = _text(message, "message", body)
    calls = message.get("tool_calls") if message else None
    if calls is not None:
        # Whole calls carry no index: their place in the list is theirs.
        calls = [
            {**call, "index": index} if isinstance(call, dict) else call
            for index, call in enumerate(_tool_calls(calls, None, body) or [])
        ]
    return Chunk(text, True, usage, None, bad_usage, calls)


def _tool_calls(value: object, before: list[Any] | None, data: str) -> list[Any] | None:
    """A choice's tool call pieces added to those of the chunk's other choices; null is none."""
    if value is None:
        return before
    if not isinstance(value, list):
        raise MalformedChunk(f"tool_calls is not a list: {data[:200]!r}")
    return value if before is None else before + value


def _json_object(data: str) -> dict[str, Any]:
    try:
        payload = json.loads(data)
    except (json.JSONDecodeError, RecursionError) as bad:
        # RecursionError: nesting deeper than the parser's stack, a hostile body.
        raise MalformedChunk(f"not JSON: {data[:200]!r}") from bad
    if not isinstance(payload, dict):
        raise MalformedChunk(f"not a chunk: {data[:200]!r}")
    return payload


def _field(choice: object, name: str, data: str) -> Any:
    if not isinstance(choice, dict):
        raise MalformedChunk(f"a choice is not an object: {data[:200]!r}")
    return choice.get(name)


def _text(part: object, name: str, data: str) -> str:
    """The content of a delta or message; a missing one is no text, a wrong one an error."""
    if part is None:
        return ""
    if not isinstance(part, dict):
        raise MalformedChunk(f"{name} is not an object: {data[:200]!r}")
    content = part.get("content")
    if content is None:
        return ""
    if not isinstance(content, str):
        raise MalformedChunk(f"{name}.content is not text: {data[:200]!r}")
    return content


def _usage(value: object) -> tuple[Usage | None, str]:
    """The reported usage, or None and why it was not believed."""
    if value is None:
        return None, ""
    if not isinstance(value, dict):
        return None, repr(value)[:200]
    details = value.get("prompt_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else None
    figures = [_tokens(value.get(name)) for name in ("prompt_tokens", "completion_tokens")]
    figures.append(_tokens(cached))
    prompt, completion, cached_tokens = figures
    if prompt is None or completion is None or cached_tokens is None or cached_tokens > prompt:
        return None, repr(value)[:200]
    return Usage(prompt, completion, cached_tokens), ""


def _tokens(value: object) -> int | None:
    """A token count as servers send it (missing is 0); None when it cannot be one."""
    if value is None:
        return 0
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 <= value <= _MOST_TOKENS else None
