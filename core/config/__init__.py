"""bots.yaml parsed once into frozen, validated objects; errors name file, line and key."""

from core.config.bots import BotConfig, PlatformModels
from core.config.document import Config
from core.config.loader import load_config
from core.config.operations import (
    BudgetConfig,
    BudgetPeriod,
    BudgetScope,
    LoggingConfig,
    ModerationConfig,
    MonitoringConfig,
)
from core.config.reload import ConfigHolder
from core.config.schema import (
    Example,
    LimitsConfig,
    Override,
    PersonaConfig,
    PriceConfig,
    ProviderConfig,
    ReasoningEffort,
    StorageConfig,
)
from core.config.secrets import SecretRef, SecretUse
from core.config.templates import PLACEHOLDERS, render_template, template_problems

__all__ = [
    "PLACEHOLDERS",
    "BotConfig",
    "BudgetConfig",
    "BudgetPeriod",
    "BudgetScope",
    "Config",
    "ConfigHolder",
    "Example",
    "LimitsConfig",
    "LoggingConfig",
    "ModerationConfig",
    "MonitoringConfig",
    "Override",
    "PersonaConfig",
    "PlatformModels",
    "PriceConfig",
    "ProviderConfig",
    "ReasoningEffort",
    "SecretRef",
    "SecretUse",
    "StorageConfig",
    "load_config",
    "render_template",
    "template_problems",
]
