"""The loader checks bots against whatever platform models it is given: a new platform is a
model written outside core, registered by name, with no edit to core."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import pytest
from pydantic import Field

from core.config import BotConfig, ConfigHolder, Override, PlatformModels, SecretRef, load_config
from core.config.fields import FrozenMap, empty_map, pattern_check
from core.errors import ConfigError, ConfigIssue

LoftId = Annotated[str, pattern_check("loft_id", r"L[0-9]{3}", "not a loft id (like L042)")]


class PigeonBotConfig(BotConfig):
    """A made-up platform: its own ids, its own secret, its own keys."""

    platform: Literal["pigeon"]
    channels: FrozenMap[LoftId, Override] = Field(default_factory=empty_map)
    feed_key: SecretRef
    wingspan: int = 60


class SmokeBotConfig(BotConfig):
    platform: Literal["smoke"]
    colour: Literal["white", "black"] = "white"


PLATFORMS: PlatformModels = {"pigeon": PigeonBotConfig, "smoke": SmokeBotConfig}
PERSONAS = "personas:\n  helper:\n    system_prompt: hi\n    model: m\n"


def _write(tmp_path: Path, bots: str) -> Path:
    path = tmp_path / "bots.yaml"
    path.write_text(PERSONAS + "bots:\n" + bots, encoding="utf-8")
    return path


def _issues(path: Path, platforms: PlatformModels = PLATFORMS) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path, {"FEED": "seed"}, platforms=platforms)
    return [_short(issue) for issue in caught.value.issues]


def _short(issue: ConfigIssue) -> str:
    return f"{issue.line} {issue.path}: {issue.message}"


PIGEON = "  - name: coo\n    platform: pigeon\n    persona: helper\n    feed_key: ${FEED}\n"


def test_a_registered_platform_loads_into_its_own_model(tmp_path: Path) -> None:
    path = _write(tmp_path, PIGEON + "    channels:\n      L042: {system_prompt: loft}\n")

    config = load_config(path, {"FEED": "seed"}, platforms=PLATFORMS)

    bot = config.bot("coo")
    assert isinstance(bot, PigeonBotConfig)
    assert bot.feed_key.reveal() == "seed"  # a SecretRef field is a secret, whatever its name
    assert "FEED" in [use.variable for use in config.secrets]
    assert bot.channels["L042"].system_prompt == "loft"
    assert (bot.answer_bots, bot.on_denied) == (False, "silent")  # the common base's defaults


def test_its_id_format_is_reported_with_line_and_path(tmp_path: Path) -> None:
    path = _write(tmp_path, PIGEON + "    channels:\n      C0123: {system_prompt: loft}\n")

    assert _issues(path) == ["11 bots[0].channels.C0123: not a loft id (like L042)"]


def test_its_unknown_keys_are_matched_against_its_own_fields(tmp_path: Path) -> None:
    path = _write(tmp_path, PIGEON + "    wingspn: 70\n")

    assert _issues(path) == ["10 bots[0].wingspn: unknown key 'wingspn' (did you mean 'wingspan'?)"]


def test_a_literal_secret_is_refused_for_its_secret_field(tmp_path: Path) -> None:
    path = _write(tmp_path, PIGEON.replace("${FEED}", "seed"))

    assert _issues(path) == [
        "9 bots[0].feed_key: secrets must come from the environment: write ${SOME_VAR} and set it"
    ]


def test_an_unknown_platform_lists_the_registered_ones(tmp_path: Path) -> None:
    path = _write(tmp_path, "  - {name: x, platform: slack, persona: helper}\n")

    assert _issues(path) == [
        "6 bots[0].platform: unknown platform 'slack'; expected pigeon or smoke"
    ]


def test_a_missing_platform_names_the_registered_ones(tmp_path: Path) -> None:
    path = _write(tmp_path, "  - {name: x, persona: helper}\n")

    assert _issues(path) == [
        "6 bots[0].platform: missing required key 'platform' (pigeon or smoke)"
    ]


def test_each_bot_is_checked_by_the_model_its_platform_names(tmp_path: Path) -> None:
    path = _write(tmp_path, "  - {name: s, platform: smoke, persona: helper, colour: grey}\n")

    assert _issues(path) == ["6 bots[0].colour: expected white or black, got 'grey'"]


def test_a_lone_platform_works_too(tmp_path: Path) -> None:
    path = _write(tmp_path, "  - {name: s, platform: smoke, persona: helper}\n")

    config = load_config(path, {}, platforms={"smoke": SmokeBotConfig})

    assert isinstance(config.bot("s"), SmokeBotConfig)
    wrong = _write(tmp_path, "  - {name: s, platform: smok, persona: helper}\n")
    assert _issues(wrong, {"smoke": SmokeBotConfig}) == [
        "6 bots[0].platform: expected smoke, got 'smok' (did you mean 'smoke'?)"
    ]


def test_a_model_registered_under_another_name_is_a_programming_error(tmp_path: Path) -> None:
    path = _write(tmp_path, PIGEON)

    with pytest.raises(ValueError, match="registered as platform 'dove'"):
        load_config(path, {}, platforms={"dove": PigeonBotConfig})


def test_a_reload_checks_against_the_same_models(tmp_path: Path) -> None:
    path = _write(tmp_path, PIGEON)
    env = {"FEED": "seed"}
    holder = ConfigHolder(
        path, load_config(path, env, platforms=PLATFORMS), env, platforms=PLATFORMS
    )
    _write(tmp_path, PIGEON + "    wingspan: 75\n")

    assert holder.reload()

    bot = holder.current.bot("coo")
    assert isinstance(bot, PigeonBotConfig) and bot.wingspan == 75
