"""Optional per-persona moderation: checks what users send and what the model replies.

A check that cannot be made (timeout, 5xx, bad key) lets the text through with a warning in
the log (fail-open): moderation is a safety net the admin added, not the gate to the model,
and a broken moderation endpoint must not take the whole bot down with it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.config import Config, ModerationConfig, PersonaConfig, ProviderConfig
from core.errors import ContentFlagged, NoModerationEndpoint, ParleyError
from core.moderation_gate import CheckedGate, OpenGate, Release, ReplyGate
from core.types import ConversationKey, Direction, ModerationFlag

if TYPE_CHECKING:
    from core.moderation_client import ModerationEndpoint

log = logging.getLogger(__name__)

EndpointFactory = Callable[[ProviderConfig], "ModerationEndpoint"]


def endpoint_for(provider: ProviderConfig) -> ModerationEndpoint:
    # Imported here: the client loads openai, which `parley check` (describe_moderation)
    # must not pay for.
    from core.moderation_client import ModerationEndpoint

    key = provider.api_key
    return ModerationEndpoint(
        base_url=provider.base_url,
        # reveal() raises a ConfigError naming the variable; the check then fails open.
        api_key=key.reveal() if key is not None else None,
        timeout=provider.timeout,
    )


@dataclass(frozen=True, slots=True)
class ModerationPlan:
    """What moderation does for one persona, with the provider that answers the checks."""

    settings: ModerationConfig
    provider: ProviderConfig


def moderation_plan(config: Config, persona: PersonaConfig) -> ModerationPlan | None:
    """None when the persona has no moderation, or its provider cannot moderate (llama.cpp)."""
    settings = persona.moderation
    if settings is None:
        return None
    provider = config.providers[settings.provider or persona.provider]
    if provider.type == "llamacpp":
        return None
    return ModerationPlan(settings, provider)


def describe_moderation(config: Config, persona: PersonaConfig) -> str:
    """One line for `parley check` and the start-up log."""
    settings = persona.moderation
    if settings is None:
        return "moderation off"
    name = settings.provider or persona.provider
    if config.providers[name].type == "llamacpp":
        return f"moderation SKIPPED: provider {name} is llama.cpp, which has no moderation endpoint"
    checked = [d for d, on in (("input", settings.input), ("output", settings.output)) if on]
    if not checked:
        return "moderation configured but checks nothing (input and output are both off)"
    return f"moderation of {' and '.join(checked)} with {settings.model} via {name}"


def skipped_moderation(config: Config) -> list[str]:
    """Personas whose moderation cannot run, said once at start."""
    return [
        f"persona {persona.name}: {describe_moderation(config, persona)}"
        for persona in config.personas.values()
        if persona.moderation is not None and moderation_plan(config, persona) is None
    ]


def flag_of(error: ParleyError | None) -> ModerationFlag | None:
    if not isinstance(error, ContentFlagged):
        return None
    direction: Direction = "output" if error.direction == "output" else "input"
    return ModerationFlag(direction, error.categories)


def admin_notice(flag: ModerationFlag, *, who: str, where: str, bot: str) -> str:
    """The line posted to a bot's moderation channel: never the flagged text itself."""
    what = "A message from" if flag.direction == "input" else "A reply to"
    categories = ", ".join(flag.categories) or "no category given"
    action = "it was not answered" if flag.direction == "input" else "it was withheld"
    return f"Moderation ({bot}): {what} {who} in {where} was flagged ({categories}); {action}."


class Moderation:
    """One moderation endpoint per provider, and what each has taught us (no endpoint)."""

    def __init__(self, factory: EndpointFactory = endpoint_for) -> None:
        self._factory = factory
        self._endpoints: dict[tuple[object, ...], ModerationEndpoint] = {}
        self._without: set[tuple[object, ...]] = set()

    async def check_input(
        self, config: Config, persona: PersonaConfig, key: ConversationKey, text: str
    ) -> None:
        """Raises ContentFlagged when the persona moderates input and the text is flagged."""
        plan = moderation_plan(config, persona)
        if plan is not None and plan.settings.input and text.strip():
            await self.screen(plan, "input", key, text)

    def output_gate(
        self, config: Config, persona: PersonaConfig, key: ConversationKey, release: Release
    ) -> ReplyGate:
        """Where the reply's deltas go: straight out, or through checked segments."""
        plan = moderation_plan(config, persona)
        if plan is None or not plan.settings.output:
            return OpenGate(release)

        async def screen(text: str) -> bool:
            return await self.screen(plan, "output", key, text)

        return CheckedGate(screen, release)

    async def screen(
        self, plan: ModerationPlan, direction: Direction, key: ConversationKey, text: str
    ) -> bool:
        """True: checked and clean. False: not checked (fail-open). Flagged: ContentFlagged."""
        provider = plan.provider
        identity = _identity(provider)
        if identity in self._without:
            return False
        try:
            endpoint = self._endpoints.get(identity)
            if endpoint is None:
                endpoint = self._endpoints[identity] = self._factory(provider)
            verdict = await endpoint.check(plan.settings.model, text)
        except NoModerationEndpoint as missing:
            self._without.add(identity)
            log.warning(
                "moderation skipped for provider %s from now on: it has no moderation "
                "endpoint (%s)",
                provider.name,
                missing,
            )
            return False
        except ParleyError as failure:
            log.warning(
                "turn %s: moderation check failed, %s let through unchecked: %s",
                key,
                direction,
                failure,
            )
            return False
        if verdict.flagged:
            raise ContentFlagged(direction, verdict.categories)
        return True

    async def close(self) -> None:
        endpoints, self._endpoints = list(self._endpoints.values()), {}
        for endpoint in endpoints:
            await endpoint.close()


def _identity(provider: ProviderConfig) -> tuple[object, ...]:
    # A reload that changes the provider gets a fresh endpoint, and a fresh chance to have one.
    key = provider.api_key
    secret = key.reveal() if key is not None and key.is_set else None
    return (provider.name, provider.base_url, secret, provider.timeout)
