"""Chooses the persona and prompt for a message: chat choice, then channel, workspace, bot."""

from __future__ import annotations

from dataclasses import dataclass

from core.config import BotConfig, Config, PersonaConfig


@dataclass(frozen=True, slots=True)
class ResolvedPersona:
    persona: PersonaConfig
    system_prompt: str  # still a template; rendered per turn with real names


def resolve_persona(
    config: Config, bot: BotConfig, workspace: str, channel: str, chosen: str | None = None
) -> ResolvedPersona:
    """`chosen` is a persona picked in chat for the channel or thread; it beats bots.yaml.
    One that a reload removed is ignored."""
    if chosen is not None and chosen in config.personas:
        picked = config.personas[chosen]
        return ResolvedPersona(picked, picked.system_prompt)
    persona = config.personas[bot.persona]
    prompt = persona.system_prompt
    for override in (bot.workspaces.get(workspace), bot.channels.get(channel)):
        if override is None:
            continue
        if override.persona is not None:
            # A new persona brings its own prompt unless this same level also sets one.
            persona = config.personas[override.persona]
            prompt = persona.system_prompt
        if override.system_prompt is not None:
            prompt = override.system_prompt
    return ResolvedPersona(persona, prompt)
