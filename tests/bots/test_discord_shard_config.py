"""The Discord bot's `shards:` key: count, the ids this replica runs, or per_replica."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from bots.config_models import load_config
from bots.discord.config import DiscordBotConfig
from cli.check import print_check
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


def load_bot(tmp_path: Path, extra: str, **env: str) -> DiscordBotConfig:
    path = tmp_path / "bots.yaml"
    path.write_text(HEAD + extra)
    bot = load_config(path, env={"DISCORD_TOKEN": "t", **env}).bot("disco")
    assert isinstance(bot, DiscordBotConfig)
    return bot


def test_no_shards_key_is_one_unsharded_session(tmp_path: Path) -> None:
    shards = load_bot(tmp_path, "").shards
    assert (shards.count, shards.ids, shards.per_replica) == (1, None, None)
    assert not shards.sharded


def test_count_with_a_list_of_ids(tmp_path: Path) -> None:
    shards = load_bot(tmp_path, "    shards: {count: 3, ids: [0, 2]}\n").shards
    assert (shards.count, shards.ids, shards.sharded) == (3, (0, 2), True)


def test_ids_from_the_environment_as_comma_separated_text(tmp_path: Path) -> None:
    extra = "    shards:\n      count: ${SHARD_COUNT}\n      ids: ${DISCORD_SHARDS}\n"
    shards = load_bot(tmp_path, extra, SHARD_COUNT="4", DISCORD_SHARDS="1, 3").shards
    assert (shards.count, shards.ids) == (4, (1, 3))


def test_a_single_id_written_as_a_number(tmp_path: Path) -> None:
    assert load_bot(tmp_path, "    shards: {count: 2, ids: 1}\n").shards.ids == (1,)


def test_per_replica(tmp_path: Path) -> None:
    shards = load_bot(tmp_path, "    shards: {count: 6, per_replica: 2}\n").shards
    assert (shards.count, shards.ids, shards.per_replica) == (6, None, 2)


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("    shards: {count: 0}\n", "8 bots[0].shards.count: must be at least 1"),
        ("    shards: {count: two}\n", "8 bots[0].shards.count:"),
        ("    shards: {count: 3, ids: [3]}\n", "8 bots[0].shards.ids: shard 3 does not exist"),
        ("    shards: {count: 3, ids: [2, 2]}\n", "8 bots[0].shards.ids: names a shard more"),
        ("    shards: {count: 3, ids: []}\n", "8 bots[0].shards.ids: must name at least one"),
        ("    shards: {count: 3, ids: 'x'}\n", "8 bots[0].shards.ids: must list shard numbers"),
        ("    shards: {count: 3, ids: [-1]}\n", "8 bots[0].shards.ids[0]: must be at least 0"),
        ("    shards: {count: 3, per_replica: 0}\n", "8 bots[0].shards.per_replica:"),
        ("    shards: {count: 2, per_replica: 3}\n", "8 bots[0].shards: per_replica (3) is more"),
        ("    shards: {count: 2, ids: [0], per_replica: 1}\n", "8 bots[0].shards: give ids"),
        ("    shards: {count: 2, replicas: 1}\n", "8 bots[0].shards.replicas:"),
    ],
)
def test_bad_shards_are_named_with_their_line(tmp_path: Path, extra: str, expected: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_bot(tmp_path, extra)
    assert any(expected in str(issue) for issue in raised.value.issues), raised.value.issues


def test_an_empty_environment_variable_for_ids_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        extra = "    shards:\n      count: 2\n      ids: ${DISCORD_SHARDS}\n"
        load_bot(tmp_path, extra, DISCORD_SHARDS="")
    issues = [str(issue) for issue in raised.value.issues]
    assert any("10 bots[0].shards.ids: environment variable DISCORD_SHARDS" in i for i in issues)


def test_check_names_the_shards_under_the_bot(tmp_path: Path) -> None:
    path = tmp_path / "bots.yaml"
    path.write_text(HEAD + "    shards: {count: 3, ids: [1]}\n")
    out = io.StringIO()
    print_check(load_config(path, env={"DISCORD_TOKEN": "t"}), out)
    assert "→ shards: 3, this replica runs 1\n" in out.getvalue()
