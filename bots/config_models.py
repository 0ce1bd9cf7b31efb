"""The one place that lists each platform's bot config model, for the config loader."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from bots.console_config import ConsoleBotConfig
from bots.discord.config import DiscordBotConfig
from bots.slack.config import SlackBotConfig
from core.config import Config, PlatformModels
from core.config import load_config as load_with

# Adding a platform: write bots/<platform>/config.py (a BotConfig subclass) and list it here.
# These modules import only pydantic and core.config, so loading a config stays cheap.
_MODELS: PlatformModels = {
    "slack": SlackBotConfig,
    "discord": DiscordBotConfig,
    "console": ConsoleBotConfig,
}


def config_models() -> PlatformModels:
    """Platform name -> the model its bots are checked against."""
    return _MODELS


def load_config(path: Path, env: Mapping[str, str] | None = None) -> Config:
    """core's load_config with every platform Parley knows; `env` defaults to os.environ."""
    return load_with(path, env, platforms=_MODELS)
