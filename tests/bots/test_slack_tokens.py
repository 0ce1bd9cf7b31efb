"""Slack tokens in the wrong key are config errors at that key's line, quoted by prefix only."""

from __future__ import annotations

from pathlib import Path

import pytest

from bots.config_models import load_config
from core.errors import ConfigError

CONFIG = """\
personas:
  helper: {system_prompt: hi, model: m}
bots:
  - name: socket
    platform: slack
    persona: helper
    bot_token: ${BOT}
    app_token: ${APP}
  - name: web
    platform: slack
    persona: helper
    bot_token: ${WEB_BOT}
    signing_secret: ${SECRET}
"""
GOOD = {
    "BOT": "xoxb-1-secretpart",
    "APP": "xapp-1-A1-secretpart",
    "WEB_BOT": "xoxe.xoxb-1-secretpart",  # a rotating bot token
    "SECRET": "8f742231b10e8888abcd99yyyzzz85a5",
}


def problems(tmp_path: Path, **env: str) -> list[str]:
    path = tmp_path / "bots.yaml"
    path.write_text(CONFIG)
    values = {**GOOD, **env}
    try:
        load_config(path, env={k: v for k, v in values.items() if v})
    except ConfigError as error:
        text = [str(issue) for issue in error.issues]
        for secret in values.values():
            if secret:
                assert all(secret not in line for line in text)
        return text
    return []


def test_the_right_kinds_and_unset_variables_pass(tmp_path: Path) -> None:
    assert problems(tmp_path) == []
    # Unset, the value is unknown here; it may be set where Parley runs.
    assert problems(tmp_path, BOT="", APP="", WEB_BOT="", SECRET="") == []


def test_swapped_tokens_are_named_at_both_lines(tmp_path: Path) -> None:
    bot_line, app_line = problems(tmp_path, BOT="xapp-1-A1-secretpart", APP="xoxb-1-secretpart")
    assert bot_line == (
        f"{tmp_path / 'bots.yaml'}:7 bots[0].bot_token: ${{BOT}} is an app-level token (xapp-), "
        "so bot_token and app_token look swapped; bot_token takes the Bot User OAuth Token "
        "(xoxb-...; OAuth & Permissions page)"
    )
    assert ":8 bots[0].app_token: ${APP} is a bot token (xoxb-), so bot_token and app_token " in (
        app_line
    )
    assert "App-Level Tokens" in app_line


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"WEB_BOT": "xoxp-1-secretpart"}, ":12 bots[1].bot_token: ${WEB_BOT} is a user token"),
        ({"BOT": "secretpart"}, ":7 bots[0].bot_token: ${BOT} does not look like a Slack token"),
        ({"BOT": "xoxb-1-secretpart\n"}, ":7 bots[0].bot_token: ${BOT} has spaces or a line"),
        ({"APP": "xoxp-1-secretpart"}, ":8 bots[0].app_token: ${APP} is a user token (xoxp-);"),
        (
            {"SECRET": "xoxb-1-secretpart"},
            ":13 bots[1].signing_secret: ${SECRET} is a bot token (xoxb-), not a signing secret",
        ),
    ],
)
def test_a_wrong_kind_is_named_with_its_prefix(
    tmp_path: Path, env: dict[str, str], expected: str
) -> None:
    [problem] = problems(tmp_path, **env)
    assert expected in problem
