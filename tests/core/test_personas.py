"""resolve_persona: channel beats workspace beats bot, for the persona and its prompt."""

from __future__ import annotations

from pathlib import Path

import pytest

from bots.config_models import load_config
from core.config import BotConfig, Config
from core.personas import resolve_persona

BOTS_YAML = """\
personas:
  a:
    system_prompt: "You are A."
    model: gpt-4o-mini
  b:
    system_prompt: "You are B."
    model: gpt-4o
  c:
    system_prompt: "You are C."
    model: gpt-4.1-mini
bots:
  - name: team
    platform: slack
    persona: a
    bot_token: ${SLACK_BOT_TOKEN}
    app_token: ${SLACK_APP_TOKEN}
    workspaces:
      T01:
        persona: b
      T02:
        system_prompt: "Workspace T02 prompt."
      T03:
        persona: c
        system_prompt: "Workspace T03 prompt."
    channels:
      C01:
        persona: c
      C02:
        system_prompt: "Channel C02 prompt."
"""


@pytest.fixture
def config(tmp_path: Path) -> Config:
    path = tmp_path / "bots.yaml"
    path.write_text(BOTS_YAML, encoding="utf-8")
    return load_config(path, env={})


@pytest.fixture
def bot(config: Config) -> BotConfig:
    return config.bot("team")


def resolved(config: Config, bot: BotConfig, workspace: str, channel: str) -> tuple[str, str]:
    """(persona name, system prompt) for a message in that workspace and channel."""
    choice = resolve_persona(config, bot, workspace, channel)
    return choice.persona.name, choice.system_prompt


def test_without_overrides_the_bot_persona_and_its_prompt_apply(
    config: Config, bot: BotConfig
) -> None:
    choice = resolve_persona(config, bot, "T99", "C99")
    assert choice.persona is config.personas["a"]
    assert choice.system_prompt == "You are A."


def test_a_workspace_persona_replaces_the_bot_persona_and_brings_its_prompt(
    config: Config, bot: BotConfig
) -> None:
    choice = resolve_persona(config, bot, "T01", "C99")
    assert choice.persona is config.personas["b"]
    assert choice.persona.model == "gpt-4o"
    assert choice.system_prompt == "You are B."


def test_a_workspace_prompt_keeps_the_bot_persona(config: Config, bot: BotConfig) -> None:
    assert resolved(config, bot, "T02", "C99") == ("a", "Workspace T02 prompt.")


def test_a_level_setting_persona_and_prompt_uses_its_own_prompt(
    config: Config, bot: BotConfig
) -> None:
    assert resolved(config, bot, "T03", "C99") == ("c", "Workspace T03 prompt.")


@pytest.mark.parametrize("workspace", ["T99", "T01", "T02", "T03"])
def test_a_channel_persona_beats_any_workspace(
    config: Config, bot: BotConfig, workspace: str
) -> None:
    # C01 sets only a persona: its own prompt applies even where the workspace set a prompt.
    assert resolved(config, bot, workspace, "C01") == ("c", "You are C.")


def test_a_channel_prompt_beats_the_workspace_prompt(config: Config, bot: BotConfig) -> None:
    assert resolved(config, bot, "T02", "C02") == ("a", "Channel C02 prompt.")


def test_a_channel_prompt_keeps_the_workspace_persona(config: Config, bot: BotConfig) -> None:
    assert resolved(config, bot, "T01", "C02") == ("b", "Channel C02 prompt.")
    assert resolved(config, bot, "T03", "C02") == ("c", "Channel C02 prompt.")


def test_a_channel_prompt_alone_keeps_the_bot_persona(config: Config, bot: BotConfig) -> None:
    assert resolved(config, bot, "T99", "C02") == ("a", "Channel C02 prompt.")


def test_overrides_are_looked_up_by_exact_id(config: Config, bot: BotConfig) -> None:
    # A channel id never matches a workspace override and vice versa.
    assert resolved(config, bot, "C01", "T01") == ("a", "You are A.")
