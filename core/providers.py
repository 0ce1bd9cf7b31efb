"""Keeps one model client per provider, shared by every conversation that uses it.

A client's module (core.llm, or the local model's) is imported when a client is first built,
not with this module: `parley run` builds them once its bots are connected (bots/warm_up.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

from core.config import ProviderConfig
from core.errors import ConfigError
from core.model_events import ModelClient

ClientFactory = Callable[[ProviderConfig], ModelClient]


def client_for(provider: ProviderConfig) -> ModelClient:
    """The client for a provider of either type; both speak the same protocol."""
    if provider.type == "llamacpp":
        from core.local_model import LlamaCppServer, LocalModelClient

        server = LlamaCppServer(
            provider.model_path,
            context_size=provider.context_size,
            threads=provider.threads,
            parallel=provider.parallel,
        )
        return LocalModelClient(server, timeout=provider.timeout, max_retries=provider.max_retries)
    return openai_compatible_client(provider)


def openai_compatible_client(provider: ProviderConfig) -> ModelClient:
    from core.llm import OpenAICompatibleClient

    return OpenAICompatibleClient(
        base_url=provider.base_url,
        # reveal() raises a ConfigError naming the variable when it is not set.
        api_key=provider.api_key.reveal() if provider.api_key is not None else None,
        timeout=provider.timeout,
        max_retries=provider.max_retries,
    )


class ModelClients:
    """Clients are keyed by the provider's settings, so a reload that changes them gets a
    fresh client while turns already streaming finish on the old one."""

    def __init__(self, factory: ClientFactory = client_for) -> None:
        self._factory = factory
        self._clients: dict[tuple[object, ...], ModelClient] = {}
        # prepare() runs in a worker thread while a first turn may ask for the same client.
        self._building = threading.Lock()

    def get(self, provider: ProviderConfig) -> ModelClient:
        key = provider.api_key
        identity = (
            provider.name,
            provider.type,
            provider.model_path,
            provider.context_size,
            provider.threads,
            provider.parallel,
            provider.base_url,
            key.reveal() if key is not None and key.is_set else None,
            provider.timeout,
            provider.max_retries,
        )
        client = self._clients.get(identity)
        if client is None:
            with self._building:
                client = self._clients.get(identity)
                if client is None:
                    client = self._clients[identity] = self._factory(provider)
        return client

    def prepare(self, providers: Iterable[ProviderConfig]) -> list[str]:
        """Builds the clients now (SDK imports, TLS context) so the first turn is not slower;
        returns why any could not be built (a missing key), which the first turn will report."""
        problems = []
        for provider in providers:
            try:
                self.get(provider)
            except ConfigError as error:
                problems.append(str(error))
        return problems

    async def close(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.close()
