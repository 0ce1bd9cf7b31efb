"""`parley check`: what a valid bots.yaml sets up, with secrets named but never shown."""

from __future__ import annotations

from typing import TextIO

from bots.app import ADAPTERS, NOT_YET_BUILT, missing_secrets
from core.config import BotConfig, Config, PersonaConfig, ProviderConfig

OPENAI_ENDPOINT = "https://api.openai.com/v1 (OpenAI)"


def print_check(config: Config, out: TextIO) -> int:
    """Prints the summary; returns the exit code (0: valid, whatever secrets are missing)."""
    write = out.write
    write(f"{config.source} is valid.\n\nProviders\n")
    for provider in config.providers.values():
        write(f"  {provider.name:<14} {_describe_provider(provider)}\n")
    write("\nPersonas\n")
    for persona in config.personas.values():
        write(f"  {persona.name:<14} {_describe_persona(persona)}\n")
    write("\nBots\n")
    for bot in config.bots:
        write(f"  {bot.name:<14} {bot.platform:<8} {_describe_bot(bot)}\n")
    write("\nSecrets (from the environment)\n")
    for use in config.secrets:
        state = "set" if use.is_set else "MISSING"
        write(f"  {use.variable:<24} {state:<8} for {use.path}\n")
    if not config.secrets:
        write("  none\n")
    write(f"\nStorage\n  {config.storage.path}\n")
    return 0


def _describe_provider(provider: ProviderConfig) -> str:
    endpoint = provider.base_url or OPENAI_ENDPOINT
    key = provider.api_key
    key_note = "no api key" if key is None else f"api key ${{{key.variable}}}"
    return (
        f"{endpoint}, {key_note}, timeout {provider.timeout:g}s, "
        f"{provider.max_retries} retr{'y' if provider.max_retries == 1 else 'ies'}"
    )


def _describe_persona(persona: PersonaConfig) -> str:
    parts = [
        f"model {persona.model} via {persona.provider}",
        f"context {persona.context_tokens} tokens, replies up to {persona.max_tokens}",
    ]
    if persona.temperature is not None:
        parts.append(f"temperature {persona.temperature:g}")
    if persona.top_p is not None:
        parts.append(f"top_p {persona.top_p:g}")
    if persona.reasoning_effort:
        parts.append(f"reasoning {persona.reasoning_effort}")
    if persona.examples:
        parts.append(f"{len(persona.examples)} example(s)")
    if persona.vision:
        parts.append("sees images")
    return ", ".join(parts)


def _describe_bot(bot: BotConfig) -> str:
    parts = [f"persona {bot.persona}"]
    if bot.workspaces:
        parts.append(f"{len(bot.workspaces)} workspace override(s)")
    if bot.channels:
        parts.append(f"{len(bot.channels)} channel override(s)")
    missing = missing_secrets(bot)
    if bot.platform not in ADAPTERS:
        parts.append(
            f"not started by `parley run`: {NOT_YET_BUILT[bot.platform]}".format(name=bot.name)
        )
    elif missing:
        parts.append(f"cannot start: {', '.join(missing)} not set")
    return ", ".join(parts)
