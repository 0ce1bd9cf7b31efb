"""Tool calls for the fake OpenAI server: streamed the way the API streams them, checked the
way the API checks them, and a script factory for end-to-end tests of the tool loop."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.fakes.openai_server import Body, Script

# A call the fake makes: the function name (its wire name, "docs__search"; "" sends none,
# a malformed call) and the arguments, a dict sent as its JSON text or a string sent as is.
FakeCall = tuple[str, "dict[str, object] | str"]

_FUNCTION_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def asking_for_tools(*calls: FakeCall, text: Sequence[str] = (), **options: object) -> Script:
    """A script that asks for `calls`, after `text` if given (no text by default, unlike a
    bare Script's "Hello world"); `options` are any other Script fields."""
    from tests.fakes.openai_server import Script

    return Script(chunks=tuple(text), tool_calls=calls, **options)  # type: ignore[arg-type]  # Script's own fields, checked when it is built


def call_ids(script: Script) -> list[str]:
    """The id each call goes out with: the script's, or fresh ones like OpenAI's
    ("call_" and 24 letters and digits). An empty id sends the call without one."""
    if script.tool_call_ids is not None:
        return list(script.tool_call_ids)
    return [f"call_{secrets.token_hex(12)}" for _ in script.tool_calls]


def arguments_text(arguments: dict[str, object] | str) -> str:
    return arguments if isinstance(arguments, str) else json.dumps(arguments)


def tool_call_deltas(script: Script, ids: Sequence[str]) -> list[Body]:
    """The deltas that stream the script's calls: each call's first piece with its id, type
    and name (arguments ""), then the arguments `argument_piece_chars` at a time; several
    calls interleaved by index, one piece per chunk, as a parallel reply can come."""
    pieces: list[list[Body]] = []
    size = max(1, script.argument_piece_chars)
    for index, ((name, arguments), call_id) in enumerate(zip(script.tool_calls, ids, strict=True)):
        opening: Body = {"index": index, "type": "function"}
        if call_id:
            opening["id"] = call_id
        opening["function"] = {"name": name, "arguments": ""} if name else {"arguments": ""}
        text = arguments_text(arguments)
        rest: list[Body] = [
            {"index": index, "function": {"arguments": text[at : at + size]}}
            for at in range(0, len(text), size)
        ]
        pieces.append([opening, *rest])
    deltas: list[Body] = []
    for step in range(max((len(call) for call in pieces), default=0)):
        for call in pieces:
            if step < len(call):
                deltas.append({"tool_calls": [call[step]]})
    if deltas:
        # OpenAI's first tool-call chunk names the role and a null content.
        deltas[0] = {"role": "assistant", "content": None, **deltas[0]}
    return deltas


def whole_tool_calls(script: Script) -> list[Body]:
    """The calls as a non-streamed completion's message carries them."""
    calls: list[Body] = []
    for (name, arguments), call_id in zip(script.tool_calls, call_ids(script), strict=True):
        call: Body = {"id": call_id} if call_id else {}
        function: Body = {"name": name} if name else {}
        function["arguments"] = arguments_text(arguments)
        calls.append({**call, "type": "function", "function": function})
    return calls


def finish_reason(script: Script) -> str:
    if script.finish_reason is not None:
        return script.finish_reason
    return "tool_calls" if script.tool_calls else "stop"


def tool_request_problem(body: Body) -> tuple[str, str] | None:
    """What OpenAI answers 400 to in a request's tools and tool messages: (message, param)."""
    tools = body.get("tools")
    if tools is not None:
        problem = _tools_problem(tools)
        if problem is not None:
            return problem
    messages = body.get("messages")
    return _messages_problem(messages) if isinstance(messages, list) else None


def _tools_problem(tools: object) -> tuple[str, str] | None:
    if not isinstance(tools, list) or not tools:
        return "Invalid 'tools': empty array. Expected an array with minimum length 1.", "tools"
    for at, tool in enumerate(tools):
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(tool, dict) or tool.get("type") != "function":
            return f"Invalid value for 'tools[{at}].type'.", f"tools[{at}].type"
        name = function.get("name") if isinstance(function, dict) else None
        if not isinstance(name, str) or not _FUNCTION_NAME.match(name):
            param = f"tools[{at}].function.name"
            return f"Invalid '{param}': string does not match pattern.", param
        parameters = function.get("parameters") if isinstance(function, dict) else None
        if parameters is not None and not isinstance(parameters, dict):
            param = f"tools[{at}].function.parameters"
            return f"Invalid type for '{param}': expected an object.", param
    return None


def _messages_problem(messages: list[object]) -> tuple[str, str] | None:
    """Every assistant tool call answered by a tool message right after it; every tool
    message answering one of those calls."""
    waiting: set[str] = set()  # ids of the latest assistant message's unanswered calls
    asked: set[str] = set()
    for at, message in enumerate(messages):
        if not isinstance(message, dict):
            continue
        role = message.get("role")
        if role == "tool":
            call_id = message.get("tool_call_id")
            if not asked:
                return (
                    "Invalid parameter: messages with role 'tool' must be a response to a "
                    "preceeding message with 'tool_calls'.",
                    f"messages.[{at}].role",
                )
            if call_id not in asked:
                return (
                    f"Invalid parameter: 'tool_call_id' of '{call_id}' not found in "
                    "'tool_calls' of previous message.",
                    f"messages.[{at}].tool_call_id",
                )
            waiting.discard(str(call_id))
            continue
        if waiting:
            return _unanswered(waiting, at)
        asked = set(_asked_ids(message)) if role == "assistant" else set()
        waiting = set(asked)
    return _unanswered(waiting, len(messages)) if waiting else None


def _asked_ids(message: dict[str, object]) -> list[str]:
    calls = message.get("tool_calls")
    if not isinstance(calls, list):
        return []
    return [str(call.get("id")) for call in calls if isinstance(call, dict)]


def _unanswered(waiting: set[str], at: int) -> tuple[str, str]:
    return (
        "An assistant message with 'tool_calls' must be followed by tool messages responding "
        "to each 'tool_call_id'. The following tool_call_ids did not have response messages: "
        + ", ".join(sorted(waiting)),
        f"messages.[{at}].role",
    )


def tool_results_seen(body: Body) -> list[str] | None:
    """The contents of the tool messages that end the request's messages; None when the
    last message is not a tool result."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return None
    results: list[str] = []
    for message in reversed(messages):
        if not isinstance(message, dict) or message.get("role") != "tool":
            break
        content = message.get("content")
        results.append(content if isinstance(content, str) else json.dumps(content))
    return list(reversed(results)) or None


def calls_tools_then_reports(
    *calls: FakeCall, text_first: Sequence[str] = ()
) -> Callable[[Body], Script]:
    """A `default` for end-to-end tests of the tool loop: a request that ends in tool
    results is answered in text, "Found: " and those results joined by " | "; any other
    asks for `calls` (after `text_first`, streamed as text), with fresh ids each time."""
    from tests.fakes.openai_server import Script

    def answer(body: Body) -> Script:
        results = tool_results_seen(body)
        if results is not None:
            return Script(chunks=("Found: ", " | ".join(results)))
        return asking_for_tools(*calls, text=text_first)

    return answer
