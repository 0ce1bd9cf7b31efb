"""`parley check`: what a valid bots.yaml sets up, with secrets named but never shown."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TYPE_CHECKING, TextIO

from bots.config_models import load_config
from bots.platform_notes import platform_notes
from bots.platforms import ADAPTERS, NOT_YET_BUILT, missing_secrets
from cli.check_tools import ToolsProbed, probe_tools, write_tools
from core.config import BotConfig, BudgetConfig, Config, PersonaConfig, ProviderConfig
from core.model_files import BUNDLED_NAME, LocalModelError, bundled_model_path, local_model_problem
from core.moderation import describe_moderation

if TYPE_CHECKING:
    from cli.probe import Probed

VOLATILE_PLACEHOLDERS = {
    "{time}": "{time} changes every minute",
    "{user_name}": "{user_name} changes with each speaker",
}
OPENAI_ENDPOINT = "https://api.openai.com/v1 (OpenAI)"
DATABASE_PROBE_SECONDS = 10.0


def check(args: argparse.Namespace) -> int:
    config = load_config(args.config)  # the positional path too (cli.parser)
    probed = None
    if args.probe:
        # Only --probe talks to providers, so only it loads the openai client.
        from cli.probe import probe_providers

        probed = asyncio.run(probe_providers(config))
    tools_probed = asyncio.run(probe_tools(config)) if args.probe and config.tools else None
    database = None
    if args.probe and config.storage.url is not None:
        from core.store.postgres.database import unreachable

        problem = asyncio.run(unreachable(config.storage.url, DATABASE_PROBE_SECONDS))
        database = f"NOT REACHABLE: {problem}" if problem else "reachable"
    return print_check(config, sys.stdout, probed, tools_probed, database)


def print_check(
    config: Config,
    out: TextIO,
    probed: Probed | None = None,
    tools_probed: ToolsProbed | None = None,
    database: str | None = None,
) -> int:
    """Prints the summary; returns the exit code (0: valid, whatever secrets are missing)."""
    write = out.write
    write(f"{config.source} is valid.\n\nProviders\n")
    for provider in config.providers.values():
        write(f"  {provider.name:<14} {_describe_provider(provider)}\n")
    write("\nPersonas\n")
    for persona in config.personas.values():
        provider = config.providers[persona.provider]
        write(f"  {persona.name:<14} {_describe_persona(persona)}\n")
        write(f"  {'':<14} {_availability(persona, provider, probed)}\n")
        if persona.moderation is not None:
            write(f"  {'':<14} {describe_moderation(config, persona)}\n")
        if note := _cache_note(config, persona):
            write(f"  {'':<14} {note}\n")
    write("\nBots\n")
    for bot in config.bots:
        write(f"  {bot.name:<14} {bot.platform:<8} {_describe_bot(bot)}\n")
        for note in platform_notes(bot):
            write(f"  {'':<23} → {note}\n")
    write_tools(config, out, tools_probed)
    write("\nSecrets (from the environment)\n")
    for use in config.secrets:
        state = "set" if use.is_set else "MISSING"
        write(f"  {use.variable:<24} {state:<8} for {use.path}\n")
    if not config.secrets:
        write("  none\n")
    if config.budgets:
        write("\nBudgets\n")
        for budget in config.budgets:
            write(f"  {_describe_budget(budget)}\n")
    write(f"\nStorage\n  {config.storage.describe()}\n  {_retention(config)}\n")
    if database is not None:  # --probe opened it
        write(f"  {database}\n")
    write(f"\nMonitoring (parley run)\n  {_monitoring(config)}\n")
    return 0


def _describe_budget(budget: BudgetConfig) -> str:
    caps = []
    if budget.tokens is not None:
        caps.append(f"{budget.tokens:,} tokens")
    if budget.cost is not None:
        caps.append(f"{budget.cost:g} in cost")
    if budget.per == "bot":
        whose = f"bot {budget.bot}" if budget.bot else "each bot"
    else:
        whose = f"each {budget.per}" + (f" (bot {budget.bot} only)" if budget.bot else "")
    admins = "admins exempt" if budget.admins_exempt else "admins included"
    return f"{whose}: {' or '.join(caps)} per UTC {budget.period}, {admins}"


def _describe_provider(provider: ProviderConfig) -> str:
    if provider.type == "llamacpp":
        return (
            f"llama.cpp inside Parley on {_model_file(provider)}, "
            f"{provider.context_size} tokens per slot, {provider.parallel} slot(s), "
            f"{provider.threads or 'all'} thread(s)"
        )
    endpoint = provider.base_url or OPENAI_ENDPOINT
    key = provider.api_key
    key_note = "no api key" if key is None else f"api key ${{{key.variable}}}"
    return (
        f"{endpoint}, {key_note}, timeout {provider.timeout:g}s, "
        f"{provider.max_retries} retr{'y' if provider.max_retries == 1 else 'ies'}"
    )


def _model_file(provider: ProviderConfig) -> str:
    if provider.model_path is not None:
        return str(provider.model_path)
    try:
        return f"{bundled_model_path()} (bundled {BUNDLED_NAME})"
    except LocalModelError:
        return f"the bundled {BUNDLED_NAME} (not installed)"


def _availability(persona: PersonaConfig, provider: ProviderConfig, probed: Probed | None) -> str:
    if provider.type == "llamacpp":
        problem = local_model_problem(provider.model_path)
        return "→ ready (local model)" if problem is None else f"→ NOT READY: {problem}"
    if provider.api_key is not None and not provider.api_key.is_set:
        return f"→ NOT READY: ${{{provider.api_key.variable}}} is not set"
    answer = (probed or {}).get(provider.name)
    if answer is None:
        return "→ key set; model not checked (add --probe to ask the provider)"
    if isinstance(answer, str):
        return f"→ could not ask {provider.name}: {answer}"
    if persona.model in answer:
        return f"→ ready: {provider.name} offers {persona.model}"
    return f"→ NOT READY: {provider.name} does not offer {persona.model} ({len(answer)} models)"


def _cache_note(config: Config, persona: PersonaConfig) -> str:
    """Warns of placeholders that change the system prompt from turn to turn.

    A prompt that differs per turn defeats providers' prompt caching: every request is
    billed (and read) from scratch.
    """
    prompts = [persona.system_prompt] + [
        override.system_prompt
        for bot in config.bots
        for override in (*bot.workspaces.values(), *bot.channels.values())
        if override.system_prompt and (override.persona or bot.persona) == persona.name
    ]
    volatile = [
        why for name, why in VOLATILE_PLACEHOLDERS.items() if any(name in p for p in prompts)
    ]
    if not volatile:
        return ""
    return (
        f"→ note: {' and '.join(volatile)}: the prompt then differs between turns and the "
        "provider's prompt cache misses (slower, dearer)"
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
    for name in ("frequency_penalty", "presence_penalty", "repeat_penalty", "seed"):
        if (value := getattr(persona, name)) is not None:
            parts.append(f"{name} {value:g}")
    if persona.stop:
        parts.append(f"stop {', '.join(repr(word) for word in persona.stop)}")
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
    channel = getattr(bot, "moderation_channel", None)
    if channel:
        parts.append(f"moderation notices to {channel}")
    missing = missing_secrets(bot)
    if bot.platform not in ADAPTERS:
        reason = NOT_YET_BUILT[bot.platform].format(name=bot.name)
        parts.append(f"not started by `parley run`: {reason}")
    elif missing:
        parts.append(f"cannot start: {', '.join(missing)} not set")
    return ", ".join(parts)


def _retention(config: Config) -> str:
    def kept(days: int | None) -> str:
        return "forever" if days is None else f"{days} days"

    storage = config.storage
    return (
        f"messages kept {kept(storage.retention_days)}, "
        f"usage rows {kept(storage.usage_retention_days)}"
    )


def _monitoring(config: Config) -> str:
    monitoring = config.monitoring
    if not monitoring.enabled:
        return "off (parley health cannot answer)"
    where = f"http://{monitoring.host}:{monitoring.port}"
    return f"{where}/healthz and {where}/metrics; logs as {config.logging.format}"
