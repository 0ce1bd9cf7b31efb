"""What a tool is to the model and the engine, a call the model asks for, and its result."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

# A JSON document as Python holds it: tool schemas, arguments, request bodies.
JsonValue = str | int | float | bool | None | list["JsonValue"] | dict[str, "JsonValue"]


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """One tool a server offers, under the name personas and the model know it by.

    `name` is "server.tool"; the model sees it with the dot made a "__" (OpenAI allows only
    letters, digits, '_' and '-' in function names), see `wire_name`.
    """

    name: str
    server: str
    tool: str  # the server's own name for it
    description: str
    parameters: dict[str, JsonValue] = field(default_factory=dict)  # a JSON Schema object
    read_only: bool = False  # the server annotates it readOnlyHint: true

    @property
    def wire_name(self) -> str:
        return wire_name(self.name)


def matches(pattern: str, spec: ToolSpec) -> bool:
    """Whether a persona's "server.tool" or "server.*" names this tool."""
    server, _, tool = pattern.partition(".")
    return server == spec.server and tool in ("*", spec.tool)


def wire_name(name: str) -> str:
    """The function name the model sees for tool `name` ("docs.search" -> "docs__search")."""
    server, _, tool = name.partition(".")
    return f"{server}__{tool}"


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A call the model asked for: its id (tool results answer it), the function name as the
    model wrote it, and the arguments as the JSON text it streamed."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ToolResult:
    """What a call gave back, as text for the model; `failed` when it is an error's text (the
    tool said so, timed out, or its server could not be reached)."""

    text: str
    failed: bool = False


class ToolHost(Protocol):
    """The MCP servers as the engine uses them (core.tools.servers.ToolServers)."""

    async def ready(self) -> None:
        """Returns once the servers' first connection attempts have ended."""
        ...

    def tools(self) -> tuple[ToolSpec, ...]:
        """The tools of the servers reachable now."""
        ...

    async def call(self, spec: ToolSpec, arguments: dict[str, JsonValue]) -> ToolResult:
        """One call, bounded by its server's timeout; never raises but for cancellation."""
        ...
