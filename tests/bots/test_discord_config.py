"""The Discord bot's keys: defaults, ids written as YAML numbers, and errors at their line."""

from __future__ import annotations

from pathlib import Path

import pytest

from bots.config_models import load_config
from bots.discord.config import DiscordBotConfig
from core.errors import ConfigError

HEAD = """\
personas:
  helper: {system_prompt: hi, model: m}
bots:
  - name: disco
    platform: discord
    persona: helper
    token: ${DISCORD_TOKEN}
"""


def load_bot(tmp_path: Path, extra: str) -> DiscordBotConfig:
    path = tmp_path / "bots.yaml"
    path.write_text(HEAD + extra)
    bot = load_config(path, env={"DISCORD_TOKEN": "t"}).bot("disco")
    assert isinstance(bot, DiscordBotConfig)
    return bot


def test_defaults_suit_a_new_server(tmp_path: Path) -> None:
    bot = load_bot(tmp_path, "")
    assert (bot.allow_dms, bot.answer_bots) == (True, False)
    assert (bot.command_sync, bot.on_denied) == ("auto", "silent")
    assert bot.allowed_guilds == bot.allowed_roles == bot.admins == ()


def test_ids_written_as_numbers_become_text(tmp_path: Path) -> None:
    bot = load_bot(
        tmp_path,
        "    allowed_guilds: [123456789012345678]\n"
        "    allowed_roles: [223456789012345678]\n"
        "    admins: ['323456789012345678']\n",
    )
    assert bot.allowed_guilds == ("123456789012345678",)
    assert bot.allowed_roles == ("223456789012345678",)
    assert bot.admins == ("323456789012345678",)


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("    admin_roles: [42]\n", "8 bots[0].admin_roles[0]: not a Discord role id"),
        ("    allow_dms: sometimes\n", "8 bots[0].allow_dms:"),
        ("    command_sync: everywhere\n", "8 bots[0].command_sync:"),
    ],
)
def test_bad_values_are_named_with_their_line(tmp_path: Path, extra: str, expected: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_bot(tmp_path, extra)
    assert any(expected in str(issue) for issue in raised.value.issues), raised.value.issues
