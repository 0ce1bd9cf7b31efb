"""Checks that span sections: names that must refer to something, and budgets that must fit."""

from __future__ import annotations

from collections.abc import Iterator

from core.config.paths import LineMap, Loc, did_you_mean, format_path
from core.config.sampling import LLAMACPP_MAX_SEED
from core.config.schema import LOCAL_ONLY_KEYS, REMOTE_ONLY_KEYS
from core.config.templates import template_problems
from core.config.tools import TOOL_PATTERN
from core.errors import ConfigIssue

# These run on the raw document so they report alongside per-field errors, not after them;
# anything of the wrong shape is skipped here because validation reports it.
_DEFAULT_MAX_TOKENS = 1024
_DEFAULT_CONTEXT_TOKENS = 16000
_DEFAULT_LOCAL_CONTEXT = 4096

Problem = tuple[Loc, str]


def cross_check(data: dict[str, object], lines: LineMap, file: str) -> list[ConfigIssue]:
    """Every cross-reference and template problem in the document."""
    problems = [
        *_provider_problems(data),
        *_persona_problems(data),
        *_bot_problems(data),
        *_spending_problems(data),
        *_tool_problems(data),
    ]
    return [ConfigIssue(file, lines.line_of(loc), format_path(loc), msg) for loc, msg in problems]


def _mapping(value: object) -> dict[str, object]:
    return value if isinstance(value, dict) else {}


def _unknown(kind: str, name: str, known: dict[str, object]) -> str:
    hint = did_you_mean(name, known)
    listed = f"; defined {kind}s: {', '.join(known)}" if not hint else ""
    return f"unknown {kind} '{name}'{hint}{listed}"


def _provider_problems(data: dict[str, object]) -> Iterator[Problem]:
    for name, provider in _mapping(data.get("providers")).items():
        if not isinstance(provider, dict):
            continue
        local = provider.get("type") == "llamacpp"
        for key in REMOTE_ONLY_KEYS if local else LOCAL_ONLY_KEYS:
            if key in provider:
                yield (
                    ("providers", name, key),
                    (
                        f"'{key}' is for OpenAI-compatible endpoints; a llamacpp provider "
                        "runs its own server on a GGUF file"
                        if local
                        else f"'{key}' is for local models: add 'type: llamacpp' to this provider"
                    ),
                )


def _persona_problems(data: dict[str, object]) -> Iterator[Problem]:
    providers = data.get("providers")
    for name, persona in _mapping(data.get("personas")).items():
        if not isinstance(persona, dict):
            continue
        loc: Loc = ("personas", name)
        provider = persona.get("provider", "openai")
        if isinstance(provider, str) and isinstance(providers, dict) and provider not in providers:
            yield (*loc, "provider"), _unknown("provider", provider, providers)
        yield from _prompt_problems(persona, loc)
        yield from _budget_problems(persona, loc)
        moderation = _mapping(persona.get("moderation"))
        checker = moderation.get("provider")
        if isinstance(checker, str) and isinstance(providers, dict) and checker not in providers:
            yield (*loc, "moderation", "provider"), _unknown("provider", checker, providers)
        if isinstance(provider, str) and isinstance(providers, dict) and provider in providers:
            settings = _mapping(providers[provider])
            yield from _local_context_problems(persona, settings, loc)
            yield from _local_sampling_problems(persona, settings.get("type", "openai"), loc)


def _budget_problems(persona: dict[str, object], loc: Loc) -> Iterator[Problem]:
    reply = _whole_number(persona.get("max_tokens", _DEFAULT_MAX_TOKENS))
    whole = _whole_number(persona.get("context_tokens", _DEFAULT_CONTEXT_TOKENS))
    if reply is not None and whole is not None and whole <= reply:
        key = "context_tokens" if "context_tokens" in persona else "max_tokens"
        yield (
            (*loc, key),
            f"context_tokens ({whole}) must be more than max_tokens ({reply}): "
            "the request budget has to leave room for the reply",
        )


def _local_context_problems(
    persona: dict[str, object], provider: dict[str, object], loc: Loc
) -> Iterator[Problem]:
    # A local server has a fixed window per slot; a bigger budget would fail every long turn.
    if provider.get("type") != "llamacpp":
        return
    window = _whole_number(provider.get("context_size", _DEFAULT_LOCAL_CONTEXT))
    whole = _whole_number(persona.get("context_tokens", _DEFAULT_CONTEXT_TOKENS))
    if window is not None and whole is not None and whole > window:
        key = "context_tokens" if "context_tokens" in persona else "provider"
        yield (
            (*loc, key),
            f"context_tokens ({whole}) is more than the local server's context_size "
            f"({window}) for provider '{persona.get('provider')}'",
        )


def _local_sampling_problems(
    persona: dict[str, object], provider_type: object, loc: Loc
) -> Iterator[Problem]:
    """Settings that only a llamacpp provider takes, or takes within a narrower range."""
    local = provider_type == "llamacpp"
    provider = persona.get("provider", "openai")
    if "repeat_penalty" in persona and not local:
        yield (
            (*loc, "repeat_penalty"),
            f"repeat_penalty is llama.cpp's own setting and provider '{provider}' is not a "
            "llamacpp provider (OpenAI-compatible endpoints refuse it); use "
            "frequency_penalty or presence_penalty instead",
        )
    seed = _whole_number(persona.get("seed"))
    if local and seed is not None and seed > LLAMACPP_MAX_SEED:
        yield (
            (*loc, "seed"),
            f"must be at most {LLAMACPP_MAX_SEED} for a llamacpp provider: llama.cpp keeps "
            "32 bits of a seed and reads 4294967295 as 'random'",
        )


def _whole_number(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    return int(value) if isinstance(value, str) and value.strip().isdigit() else None


def _prompt_problems(holder: dict[str, object], loc: Loc) -> Iterator[Problem]:
    prompt = holder.get("system_prompt")
    if isinstance(prompt, str):
        for message in template_problems(prompt):
            yield (*loc, "system_prompt"), message


def _bot_problems(data: dict[str, object]) -> Iterator[Problem]:
    personas = _mapping(data.get("personas"))
    bots = data.get("bots")
    seen: set[str] = set()
    for index, bot in enumerate(bots if isinstance(bots, list) else []):
        if not isinstance(bot, dict):
            continue
        loc: Loc = ("bots", index)
        name = bot.get("name")
        if isinstance(name, str):
            if name in seen:
                yield (*loc, "name"), f"duplicate bot name '{name}'; bot names must be unique"
            seen.add(name)
        yield from _persona_ref(bot, loc, personas)
        for section in ("workspaces", "channels"):
            for key, override in _mapping(bot.get(section)).items():
                if isinstance(override, dict):
                    yield from _persona_ref(override, (*loc, section, key), personas)
                    yield from _prompt_problems(override, (*loc, section, key))


def _tool_problems(data: dict[str, object]) -> Iterator[Problem]:
    """Every tool a persona or an override lists must come from a server under tools:.

    Whether the tool itself exists is known only once the server answers: `parley check
    --probe` reports patterns that match none of its tools.
    """
    servers = _mapping(data.get("tools"))
    holders: list[tuple[Loc, object]] = [
        (("personas", name), persona) for name, persona in _mapping(data.get("personas")).items()
    ]
    bots = data.get("bots")
    for index, bot in enumerate(bots if isinstance(bots, list) else []):
        for section in ("workspaces", "channels"):
            for key, override in _mapping(_mapping(bot).get(section)).items():
                holders.append((("bots", index, section, key), override))
    for loc, holder in holders:
        listed = _mapping(holder).get("tools")
        for position, pattern in enumerate(listed if isinstance(listed, list) else []):
            match = TOOL_PATTERN.fullmatch(pattern) if isinstance(pattern, str) else None
            if match is not None and match["server"] not in servers:
                where = (*loc, "tools", position)
                yield where, _unknown("tool server", match["server"], servers)


def _persona_ref(
    holder: dict[str, object], loc: Loc, personas: dict[str, object]
) -> Iterator[Problem]:
    persona = holder.get("persona")
    if isinstance(persona, str) and personas and persona not in personas:
        yield (*loc, "persona"), _unknown("persona", persona, personas)


def _spending_problems(data: dict[str, object]) -> Iterator[Problem]:
    """Budgets must name real bots, and a cost cap needs a price for every persona's model."""
    budgets = data.get("budgets")
    bots = data.get("bots")
    names: dict[str, object] = {
        bot["name"]: bot
        for bot in (bots if isinstance(bots, list) else [])
        if isinstance(bot, dict) and isinstance(bot.get("name"), str)
    }
    prices = _mapping(data.get("prices"))
    for index, budget in enumerate(budgets if isinstance(budgets, list) else []):
        if not isinstance(budget, dict):
            continue
        bot = budget.get("bot")
        if isinstance(bot, str) and bot not in names:
            yield ("budgets", index, "bot"), _unknown("bot", bot, names)
        if "cost" not in budget:
            continue
        for persona in _mapping(data.get("personas")).values():
            model = _mapping(persona).get("model")
            if isinstance(model, str) and model not in prices:
                yield (
                    ("budgets", index, "cost"),
                    f"a cost budget needs a price for every model; add prices.{model}",
                )
                break
