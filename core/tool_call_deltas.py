"""Tool calls as Chat Completions streams them: pieces gathered by index into whole calls.

The API sends each call in pieces, `{index, id, type, function: {name, arguments}}`, the id
and name in its first piece only and the arguments split anywhere; several calls may come
interleaved. A non-streamed completion gives them whole in `message.tool_calls`.
"""

from __future__ import annotations

import json
from typing import Any

from core.chunks import MalformedChunk
from core.errors import ReplyCut
from core.tools.calls import ToolCall

# Far beyond any sane reply; a server that streams more is broken, and the arguments are
# held in memory until the reply ends.
MOST_CALLS = 128
MOST_ARGUMENT_CHARS = 1_000_000


class _CallParts:
    """One call being gathered: the first id and name seen, and its arguments' pieces."""

    __slots__ = ("arguments", "id", "name", "size")

    def __init__(self) -> None:
        self.id = ""
        self.name = ""
        self.arguments: list[str] = []
        self.size = 0


class ToolCallAssembler:
    """Gathers the pieces of one reply's tool calls; `calls()` gives them whole."""

    def __init__(self) -> None:
        self._parts: dict[int, _CallParts] = {}
        self._last = -1  # the index of the latest piece, for servers that send none
        self._slots: dict[int, int] = {}  # a reused index -> where its latest call gathers

    def __bool__(self) -> bool:
        return bool(self._parts)

    def add(self, pieces: object) -> None:
        """One delta's `tool_calls` list (or a completion's, each with its index)."""
        if not isinstance(pieces, list):
            raise MalformedChunk(f"tool_calls is not a list: {_shown(pieces)}")
        for piece in pieces:
            if not isinstance(piece, dict):
                raise MalformedChunk(f"a tool call is not an object: {_shown(piece)}")
            self._add_piece(piece)

    def calls(self) -> tuple[ToolCall, ...]:
        """The whole calls in index order; a call that never got a name is an error."""
        calls = []
        for index in sorted(self._parts):
            parts = self._parts[index]
            if not parts.name:
                raise MalformedChunk(f"tool call {index} came without a function name")
            # Some servers (older llama.cpp) send no id; the tool result still needs one.
            call_id = parts.id or f"call_{index}"
            calls.append(ToolCall(call_id, parts.name, "".join(parts.arguments)))
        return tuple(calls)

    def _add_piece(self, piece: dict[str, Any]) -> None:
        parts = self._parts_for(piece)
        call_id = piece.get("id")
        if call_id and not parts.id:
            parts.id = _string(call_id, "id", piece)
        function = piece.get("function")
        if function is None:
            return
        if not isinstance(function, dict):
            raise MalformedChunk(f"a tool call's function is not an object: {_shown(piece)}")
        name = function.get("name")
        # The name comes whole in the first piece; servers that repeat it add nothing.
        if name and not parts.name:
            parts.name = _string(name, "function.name", piece)
        arguments = function.get("arguments")
        if arguments is None or arguments == "":
            return
        if not isinstance(arguments, str):
            # A few servers send the arguments as a JSON object rather than its text.
            arguments = json.dumps(arguments, ensure_ascii=False)
        parts.arguments.append(arguments)
        parts.size += len(arguments)
        if parts.size > MOST_ARGUMENT_CHARS:
            raise ReplyCut(f"the provider sent tool arguments over {MOST_ARGUMENT_CHARS} chars")

    def _parts_for(self, piece: dict[str, Any]) -> _CallParts:
        index = piece.get("index")
        if index is None:
            # No index (some servers' whole calls): a piece with an id or a name starts
            # the next call, any other continues the latest one.
            starts = bool(piece.get("id")) or _names_a_function(piece) or self._last < 0
            index = self._last + 1 if starts else self._last
        elif isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise MalformedChunk(f"a tool call's index is not one: {_shown(piece)}")
        self._last = index
        slot = self._slots.get(index, index)
        parts = self._parts.get(slot)
        call_id = piece.get("id")
        if parts is not None and call_id and parts.id and call_id != parts.id:
            # Some proxies send every parallel call at index 0: a new id is a new call, and
            # the pieces after it at that index are its own.
            slot = self._slots[index] = max(self._parts) + 1
            parts = None
        if parts is None:
            if len(self._parts) >= MOST_CALLS:
                raise ReplyCut(f"the provider asked for more than {MOST_CALLS} tool calls")
            parts = self._parts[slot] = _CallParts()
        return parts


def _names_a_function(piece: dict[str, Any]) -> bool:
    function = piece.get("function")
    return isinstance(function, dict) and bool(function.get("name"))


def _string(value: object, field: str, piece: dict[str, Any]) -> str:
    if not isinstance(value, str):
        raise MalformedChunk(f"a tool call's {field} is not text: {_shown(piece)}")
    return value


def _shown(value: object) -> str:
    return repr(value)[:200]
