"""Which platforms `parley run` can serve, each adapter named by module, imported only to run."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

from core.config import BotConfig, Config, SecretRef
from core.types import ConversationKey

if TYPE_CHECKING:
    from bots.tasks import Shutdown
    from core.engine import Engine
    from core.metrics import ApiCalls


class BotRunner(Protocol):
    """A platform adapter serving one bot until it is cancelled."""

    async def run(self) -> None: ...

    @property
    def connected(self) -> bool: ...

    async def notify(self, key: ConversationKey, text: str) -> None:
        """Posts one short note in a conversation, outside any turn (what a restart found
        unfinished there); raises ParleyError when the platform refuses it."""
        ...


class AdapterFactory(Protocol):
    """Builds a bot's adapter; `api_calls` counts the HTTP responses of its platform's API;
    `shutdown` bounds the wait for its running replies when it is stopped, and hears of them."""

    def __call__(
        self, config: BotConfig, engine: Engine, *, api_calls: ApiCalls, shutdown: Shutdown
    ) -> BotRunner: ...


# "module:class" rather than the classes: importing an adapter loads its SDK (slack_bolt,
# discord.py: a second or more), which `parley check` and the admin commands never need.
ADAPTERS: Mapping[str, str] = {
    "slack": "bots.slack.bot:SlackBot",
    "discord": "bots.discord.bot:DiscordBot",
}
# Delivery records that are markers, not dedupe entries: retention never prunes them.
# Discord's: which command set was last synced where (so a restart skips the sync).
DISCORD_COMMAND_SYNC_SCOPE = "discord-commands:"
KEPT_SCOPES = (DISCORD_COMMAND_SYNC_SCOPE,)

NOT_YET_BUILT = {
    "console": "console bots run in a terminal: use `parley chat --bot {name}`",
}


def adapter_factory(platform: str) -> AdapterFactory:
    """The platform's adapter class, importing its module (and SDK) on first use."""
    module, _, name = ADAPTERS[platform].partition(":")
    factory: AdapterFactory = getattr(importlib.import_module(module), name)
    return factory


def startable_bots(config: Config) -> tuple[list[BotConfig], list[str]]:
    """Splits the bots into those `parley run` can start and reasons for the others."""
    ready: list[BotConfig] = []
    refused: list[str] = []
    for bot in config.bots:
        if bot.platform not in ADAPTERS:
            reason = NOT_YET_BUILT.get(bot.platform, "no adapter for this platform")
            refused.append(f"{bot.name} ({bot.platform}): {reason.format(name=bot.name)}")
            continue
        missing = missing_secrets(bot)
        if missing:
            refused.append(f"{bot.name} ({bot.platform}): not set: {', '.join(missing)}")
            continue
        ready.append(bot)
    return ready, refused


def missing_secrets(bot: BotConfig) -> list[str]:
    """The environment variables this bot needs that are not set."""
    values = (getattr(bot, field) for field in type(bot).model_fields)
    return [v.variable for v in values if isinstance(v, SecretRef) and not v.is_set]
