"""The config models for tools: MCP servers, what each may run without asking, and limits."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from core.config.fields import Frozen, FrozenMap, HttpUrl, empty_map, pattern_check

# auto: runs without asking; ask: Approve / Deny buttons in the thread first; deny: never
# runs (the model is told so). Unset: MCP's own rule, a tool the server annotates
# readOnlyHint runs, any other asks, as an unannotated tool may be destructive.
Approval = Literal["auto", "ask", "deny"]

# A server's name prefixes its tools ("docs.search"), so it may not contain the dot.
ServerName = Annotated[
    str,
    pattern_check(
        "tool_server_name",
        r"[A-Za-z0-9_-]+",
        "a tool server's name may only use letters, digits, '_' and '-'",
    ),
]
# What a persona lists: "server.tool", or "server.*" for every tool of that server.
TOOL_PATTERN = re.compile(r"(?P<server>[A-Za-z0-9_-]+)\.(?P<tool>\*|[A-Za-z0-9_.:/-]+)")
ToolPattern = Annotated[
    str,
    pattern_check(
        "tool_pattern",
        TOOL_PATTERN.pattern,
        "a tool is named 'server.tool' or 'server.*' (a server declared under tools:)",
    ),
]


class ToolServerConfig(Frozen):
    """An MCP server whose tools personas may use.

    Either a child process spoken to over stdio (`command`, `args`, `env`: the child gets
    only this environment, never Parley's own, so no platform token or API key leaks into
    it) or a Streamable HTTP endpoint (`url`, `headers`). `timeout` bounds connecting and
    each call, in seconds.
    """

    name: ServerName
    command: str | None = Field(default=None, min_length=1)
    args: tuple[str, ...] = ()
    env: FrozenMap[str, str] = Field(default_factory=empty_map)
    cwd: Path | None = None  # default: the folder bots.yaml is in
    url: HttpUrl | None = None
    headers: FrozenMap[str, str] = Field(default_factory=empty_map)
    timeout: float = Field(default=30.0, gt=0, le=3600)
    approval: Approval | None = None  # for every tool of this server
    approvals: FrozenMap[str, Approval] = Field(default_factory=empty_map)  # by tool name

    @model_validator(mode="before")
    @classmethod
    def _runs_beside_the_config(cls, data: object, info: ValidationInfo) -> object:
        # A child's relative paths (its args, its files) mean what they mean to whoever
        # wrote bots.yaml: relative to its folder, like every other path in it.
        context = info.context if isinstance(info.context, dict) else {}
        base = context.get("base_dir")
        if isinstance(data, dict) and "command" in data and "cwd" not in data and base:
            return {**data, "cwd": str(base)}
        return data

    @model_validator(mode="after")
    def _one_transport(self) -> ToolServerConfig:
        if (self.command is None) == (self.url is None):
            raise PydanticCustomError(
                "tool_transport",
                "a tool server needs either command (stdio) or url (Streamable HTTP)",
            )
        stdio_only = ("args", "env", "cwd")
        wrong = [key for key in stdio_only if key in self.model_fields_set] if self.url else []
        if self.command and "headers" in self.model_fields_set:
            wrong = ["headers"]
        if wrong:
            raise PydanticCustomError(
                "tool_transport_keys",
                "'{keys}' does not apply to this server's transport",
                {"keys": "', '".join(wrong)},
            )
        return self

    @field_validator("cwd")
    @classmethod
    def _resolved(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is None or value.expanduser().is_absolute():
            return None if value is None else value.expanduser()
        context = info.context if isinstance(info.context, dict) else {}
        base = context.get("base_dir")
        return Path(base) / value if base is not None else value.absolute()

    def approval_for(self, tool: str, read_only: bool) -> Approval:
        """What a call of `tool` needs: its own setting, the server's, else MCP's rule."""
        chosen = self.approvals.get(tool) or self.approval
        if chosen is not None:
            return chosen
        return "auto" if read_only else "ask"
