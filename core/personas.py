"""Chooses the persona and prompt for a message: chat choice, then channel, workspace, bot."""

from __future__ import annotations

from dataclasses import dataclass

from core.config import BotConfig, Config, PersonaConfig


@dataclass(frozen=True, slots=True)
class ResolvedPersona:
    persona: PersonaConfig
    system_prompt: str  # still a template; rendered per turn with real names
    tools: tuple[str, ...] = ()  # "server.tool" / "server.*" patterns the turn may call


def resolve_persona(
    config: Config, bot: BotConfig, workspace: str, channel: str, chosen: str | None = None
) -> ResolvedPersona:
    """`chosen` is a persona picked in chat for the channel or thread; it beats bots.yaml.
    One that a reload removed is ignored."""
    overrides = [o for o in (bot.workspaces.get(workspace), bot.channels.get(channel)) if o]
    if chosen is not None and chosen in config.personas:
        picked = config.personas[chosen]
        # The place's tool list still applies: an admin narrowed it for this channel.
        tools = picked.tools
        for override in overrides:
            tools = override.tools if override.tools is not None else tools
        return ResolvedPersona(picked, picked.system_prompt, tools)
    persona = config.personas[bot.persona]
    prompt, tools = persona.system_prompt, persona.tools
    for override in overrides:
        if override.persona is not None:
            # A new persona brings its own prompt and tools unless this level also sets them.
            persona = config.personas[override.persona]
            prompt, tools = persona.system_prompt, persona.tools
        if override.system_prompt is not None:
            prompt = override.system_prompt
        if override.tools is not None:
            tools = override.tools
    return ResolvedPersona(persona, prompt, tools)
