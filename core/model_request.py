"""What one model call asks for, and its Chat Completions body with only the options set."""

from __future__ import annotations

import base64
from dataclasses import dataclass

from core.config import PersonaConfig
from core.tools.calls import JsonValue as JsonValue  # re-exported
from core.tools.calls import ToolSpec
from core.types import PromptMessage


@dataclass(frozen=True, slots=True)
class ModelRequest:
    model: str
    messages: tuple[PromptMessage, ...]
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    reasoning_effort: str | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    stop: tuple[str, ...] = ()
    seed: int | None = None
    # llama.cpp's own; config validation allows it only on llamacpp providers, as OpenAI
    # refuses a request that carries it.
    repeat_penalty: float | None = None
    # Offered to the model as functions; empty: the request carries no tools at all.
    tools: tuple[ToolSpec, ...] = ()


def request_for(
    persona: PersonaConfig,
    messages: tuple[PromptMessage, ...],
    tools: tuple[ToolSpec, ...] = (),
) -> ModelRequest:
    """The request a persona makes for these messages: its model, every sampling setting
    and the tools it is offered."""
    return ModelRequest(
        model=persona.model,
        messages=messages,
        temperature=persona.temperature,
        top_p=persona.top_p,
        max_tokens=persona.max_tokens,
        reasoning_effort=persona.reasoning_effort,
        frequency_penalty=persona.frequency_penalty,
        presence_penalty=persona.presence_penalty,
        stop=persona.stop,
        seed=persona.seed,
        repeat_penalty=persona.repeat_penalty,
        tools=tools,
    )


def wire_message(message: PromptMessage) -> dict[str, JsonValue]:
    """One PromptMessage in Chat Completions form; images ride only on user turns."""
    if message.tool_calls:
        return _asked_for_tools(message)
    if message.role == "tool":
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.content}
    # The API accepts image parts on user messages only, so other roles stay text.
    if message.role != "user" or not message.images:
        return {"role": message.role, "content": message.content}
    parts: list[JsonValue] = [{"type": "text", "text": message.content}]
    for image in message.images:
        encoded = base64.b64encode(image.data).decode("ascii")
        url = f"data:{image.media_type};base64,{encoded}"
        parts.append({"type": "image_url", "image_url": {"url": url}})
    return {"role": "user", "content": parts}


def _asked_for_tools(message: PromptMessage) -> dict[str, JsonValue]:
    """An assistant turn that asked for tools, with the text it said alongside."""
    calls: list[JsonValue] = [
        {
            "id": call.id,
            "type": "function",
            "function": {"name": call.name, "arguments": call.arguments},
        }
        for call in message.tool_calls
    ]
    # Content is a string even when empty: OpenAI takes null or "", but llama.cpp's server
    # refused null (its issue 8367) and a missing key (issue 12279) before 2025; "" it
    # always took.
    return {"role": "assistant", "content": message.content, "tool_calls": calls}


def wire_tool(spec: ToolSpec) -> dict[str, JsonValue]:
    """A tool as the model is offered it: a function under its wire name."""
    # A tool without a schema takes no arguments; OpenAI wants an object schema regardless.
    parameters = spec.parameters or {"type": "object", "properties": {}}
    function: dict[str, JsonValue] = {
        "name": spec.wire_name,
        "description": spec.description,
        "parameters": parameters,
    }
    return {"type": "function", "function": function}


def request_body(request: ModelRequest, *, openai_endpoint: bool) -> dict[str, JsonValue]:
    """The JSON body's model, messages and options; unset options are left out, not null."""
    # OpenAI's newer models reject max_tokens; local servers only know max_tokens.
    length_key = "max_completion_tokens" if openai_endpoint else "max_tokens"
    options: dict[str, JsonValue | None] = {
        "temperature": request.temperature,
        "top_p": request.top_p,
        length_key: request.max_tokens,
        # Passed through unchecked: other servers accept values OpenAI's list lacks.
        "reasoning_effort": request.reasoning_effort,
        "frequency_penalty": request.frequency_penalty,
        "presence_penalty": request.presence_penalty,
        # A list, the one form every server takes (the config turns a bare string into one).
        "stop": list(request.stop) or None,
        "seed": request.seed,
        "repeat_penalty": request.repeat_penalty,
    }
    body: dict[str, JsonValue] = {
        "model": request.model,
        "messages": [wire_message(message) for message in request.messages],
    }
    body.update({key: value for key, value in options.items() if value is not None})
    if request.tools:
        # Without tools, no key at all: servers that know none see the same body as ever.
        body["tools"] = [wire_tool(spec) for spec in request.tools]
    return body
