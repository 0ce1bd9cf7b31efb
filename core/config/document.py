"""The whole config: what bots.yaml says (`ConfigFile`) plus where it came from (`Config`)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pydantic import Field

from core.config.bots import AnyBot, BotConfig
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


def _implicit_providers() -> Mapping[str, ProviderConfig]:
    return {"openai": ProviderConfig(name="openai")}


class ConfigFile(Frozen):
    """The sections of bots.yaml, validated one field at a time."""

    providers: FrozenMap[str, ProviderConfig] = Field(default_factory=_implicit_providers)
    personas: FrozenMap[str, PersonaConfig] = Field(min_length=1)
    bots: tuple[AnyBot, ...] = Field(min_length=1)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    prices: FrozenMap[str, PriceConfig] = Field(default_factory=empty_map)  # by model name
    budgets: tuple[BudgetConfig, ...] = ()
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
