"""The whole config: what bots.yaml says (`ConfigFile`) plus where it came from (`Config`)."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path

from pydantic import Field, create_model

from core.config.bots import BotConfig, PlatformModels, bot_entry
from core.config.fields import Frozen, FrozenMap, empty_map
from core.config.operations import BudgetConfig, LoggingConfig, MonitoringConfig
from core.config.paths import did_you_mean
from core.config.schema import (
    LimitsConfig,
    PersonaConfig,
    PriceConfig,
    ProviderConfig,
    StorageConfig,
)
from core.config.secrets import SecretUse
from core.config.tools import ToolServerConfig


def _implicit_providers() -> Mapping[str, ProviderConfig]:
    return {"openai": ProviderConfig(name="openai")}


class ConfigFile(Frozen):
    """The sections of bots.yaml, validated one field at a time.

    Each bot holds its platform's own model (a BotConfig subclass); `file_model` builds the
    variant that knows which one to check a `bots` entry against.
    """

    providers: FrozenMap[str, ProviderConfig] = Field(default_factory=_implicit_providers)
    personas: FrozenMap[str, PersonaConfig] = Field(min_length=1)
    bots: tuple[BotConfig, ...] = Field(min_length=1)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    prices: FrozenMap[str, PriceConfig] = Field(default_factory=empty_map)  # by model name
    budgets: tuple[BudgetConfig, ...] = ()
    tools: FrozenMap[str, ToolServerConfig] = Field(default_factory=empty_map)  # MCP servers
    monitoring: MonitoringConfig = Field(default_factory=MonitoringConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)


class Config(ConfigFile):
    """A loaded, checked config; a reload replaces the whole object."""

    source: Path
    secrets: tuple[SecretUse, ...] = ()

    def bot(self, name: str) -> BotConfig:
        """The bot called `name`; KeyError naming the bots that do exist otherwise."""
        for bot in self.bots:
            if bot.name == name:
                return bot
        names = [bot.name for bot in self.bots]
        hint = did_you_mean(name, names)
        raise KeyError(f"no bot named {name!r} in {self.source}{hint}; bots: {', '.join(names)}")


def file_model(platforms: PlatformModels) -> type[ConfigFile]:
    """ConfigFile whose `bots` entries are each checked against the model their platform names."""
    return _file_model(tuple(platforms.items()))


@functools.lru_cache(maxsize=8)
def _file_model(platforms: tuple[tuple[str, type[BotConfig]], ...]) -> type[ConfigFile]:
    # Built once per set of platforms: a reload reuses the compiled validator.
    entry = bot_entry(dict(platforms))
    return create_model(
        "ConfigFile",
        __base__=ConfigFile,
        # mypy cannot check a type built at run time; pydantic checks it when it builds.
        bots=(tuple[entry, ...], Field(min_length=1)),  # type: ignore[valid-type]
    )
