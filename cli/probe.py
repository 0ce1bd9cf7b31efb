"""`parley check --probe`: asks each remote provider in use which models it offers."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from core.config import Config, ProviderConfig
from core.errors import ParleyError
from core.llm import OpenAICompatibleClient

PROBE_TIMEOUT_SECONDS = 10.0
# What `--probe` learned: the provider's model names, or why it could not be asked.
Probed = Mapping[str, list[str] | str]


async def probe_providers(config: Config) -> Probed:
    """Model lists (or the reason there is none) for every remote provider a persona uses."""
    used = sorted({persona.provider for persona in config.personas.values()})
    providers = [config.providers[name] for name in used if _askable(config.providers[name])]
    answers = await asyncio.gather(*(_models_of(provider) for provider in providers))
    return dict(zip((provider.name for provider in providers), answers, strict=True))


def _askable(provider: ProviderConfig) -> bool:
    # Local servers accept any model name; a missing key is reported without asking.
    key = provider.api_key
    return provider.type == "openai" and (key is None or key.is_set)


async def _models_of(provider: ProviderConfig) -> list[str] | str:
    key = provider.api_key
    client = OpenAICompatibleClient(
        base_url=provider.base_url,
        api_key=key.reveal() if key is not None else None,
        timeout=min(provider.timeout, PROBE_TIMEOUT_SECONDS),
        max_retries=0,
    )
    try:
        return await client.list_models()
    except ParleyError as failure:
        return failure.user_message
    finally:
        await client.close()
