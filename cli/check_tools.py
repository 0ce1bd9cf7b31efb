"""The Tools section of `parley check`: servers, and with --probe what each offers to whom."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

from core.config import Config
from core.config.tools import ToolServerConfig
from core.tools.calls import ToolSpec, matches


@dataclass(frozen=True, slots=True)
class ToolsProbed:
    """What --probe learnt: every tool the reachable servers offer, and why others failed."""

    specs: tuple[ToolSpec, ...]
    unreachable: dict[str, str]


async def probe_tools(config: Config) -> ToolsProbed:
    """Connects to every server once, lists its tools, and closes (children reaped)."""
    from core.tools.servers import ToolServers

    servers = ToolServers(config.tools)
    try:
        probes = await servers.probe()
        specs = servers.tools()
    finally:
        await servers.close()
    unreachable = {p.name: p.error or "unreachable" for p in probes if not p.reachable}
    return ToolsProbed(specs, unreachable)


def write_tools(config: Config, out: TextIO, probed: ToolsProbed | None) -> None:
    """Each server (env and header values never shown), each persona's patterns, and with
    `probed` (every tool the reachable servers offered) the tools each pattern gives."""
    if not config.tools:
        return
    write = out.write
    write("\nTools (MCP servers)\n")
    specs = probed.specs if probed is not None else None
    for server in config.tools.values():
        write(f"  {server.name:<14} {_describe_server(server)}\n")
        if probed is not None and server.name in probed.unreachable:
            write(f"  {'':<14} → NOT REACHABLE: {probed.unreachable[server.name]}\n")
        for spec in (s for s in specs or () if s.server == server.name):
            approval = server.approval_for(spec.tool, spec.read_only)
            write(f"  {'':<14}   {spec.tool:<24} {approval}{_read_only(spec)}\n")
    for persona in config.personas.values():
        if persona.tools:
            write(f"  persona {persona.name}: {_given(persona.tools, specs)}\n")
    for problem in unmatched(config, specs or ()):
        write(f"  → {problem}\n")


def unmatched(config: Config, probed: Sequence[ToolSpec]) -> list[str]:
    """Persona patterns that name no tool of a reachable server, for --probe to warn of."""
    reachable = {spec.server for spec in probed}
    return [
        f"personas.{persona.name}.tools: '{pattern}' matches no tool of server "
        f"'{pattern.partition('.')[0]}'"
        for persona in config.personas.values()
        for pattern in persona.tools
        if pattern.partition(".")[0] in reachable and not _matching(pattern, probed)
    ]


def _describe_server(server: ToolServerConfig) -> str:
    if server.command is not None:
        where = f"stdio: {server.command} {' '.join(server.args)}".rstrip()
        extra = f", env {', '.join(server.env)}" if server.env else ", no env"
    else:
        where = f"Streamable HTTP: {server.url}"
        extra = f", headers {', '.join(server.headers)}" if server.headers else ""
    approval = server.approval or "by each tool's readOnlyHint"
    return f"{where}{extra}, timeout {server.timeout:g}s, approval {approval}"


def _given(patterns: Sequence[str], probed: Sequence[ToolSpec] | None) -> str:
    if probed is None:
        return ", ".join(patterns) + " (add --probe to list the tools)"
    names = sorted({spec.name for pattern in patterns for spec in _matching(pattern, probed)})
    return ", ".join(names) if names else "no tool (no server answered with a match)"


def _matching(pattern: str, probed: Sequence[ToolSpec]) -> list[ToolSpec]:
    return [spec for spec in probed if matches(pattern, spec)]


def _read_only(spec: ToolSpec) -> str:
    return " (read-only)" if spec.read_only else ""
