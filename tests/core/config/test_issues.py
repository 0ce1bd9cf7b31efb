"""How problems are reported: wording, location and which knock-on errors are left out."""

from __future__ import annotations

from pathlib import Path

import pytest

from bots.config_models import load_config
from core.errors import ConfigError, ConfigIssue

PERSONAS = """\
personas:
  helper:
    system_prompt: hi
    model: m
"""
CONSOLE = "bots:\n  - {name: c, platform: console, persona: helper}\n"


def _issues(tmp_path: Path, text: str) -> list[ConfigIssue]:
    path = tmp_path / "bots.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path, {})
    return list(caught.value.issues)


def test_issue_reads_file_line_path_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("bots.yaml").write_text(PERSONAS + "bots:\n  - {name: c, platform: console, persona: x}\n")

    with pytest.raises(ConfigError) as caught:
        load_config(Path("bots.yaml"), {})

    expected = "bots.yaml:6 bots[0].persona: unknown persona 'x'; defined personas: helper"
    assert str(caught.value) == expected


def test_unknown_key_is_reported_even_when_its_value_also_fails(tmp_path: Path) -> None:
    text = PERSONAS + (
        "bots:\n  - name: s\n    platform: slack\n    persona: helper\n"
        "    bot_tokn: ${X}\n    app_token: ${Y}\n"
    )

    messages = {(issue.path, issue.message) for issue in _issues(tmp_path, text)}

    assert ("bots[0].bot_tokn", "unknown key 'bot_tokn' (did you mean 'bot_token'?)") in messages
    assert ("bots[0].bot_token", "missing required key 'bot_token'") in messages


def test_unset_variable_is_not_reported_again_as_a_bad_value(tmp_path: Path) -> None:
    text = "providers:\n  local:\n    base_url: ${URL}\n" + PERSONAS + CONSOLE

    issues = _issues(tmp_path, text.replace("model: m", "model: m\n    provider: local"))

    assert [issue.path for issue in issues] == ["providers.local.base_url"]


def test_loader_only_keys_cannot_be_written_in_the_file(tmp_path: Path) -> None:
    [issue] = _issues(tmp_path, PERSONAS + CONSOLE + "source: elsewhere.yaml\n")

    assert (issue.path, issue.line) == ("source", 7)
    assert issue.message.startswith("unknown key 'source'")


def test_persona_cannot_rename_itself(tmp_path: Path) -> None:
    [issue] = _issues(tmp_path, PERSONAS.replace("model: m", "model: m\n    name: bob") + CONSOLE)

    assert (issue.path, issue.line) == ("personas.helper.name", 5)


def test_issues_come_in_file_order(tmp_path: Path) -> None:
    text = PERSONAS.replace("model: m", "model: m\n    top_p: 0") + (
        "bots:\n  - {name: c, platform: console, persona: nobody}\nlimits: {history_messages: 0}\n"
    )

    lines = [issue.line or 0 for issue in _issues(tmp_path, text)]

    assert lines == sorted(lines) and len(lines) == 3 and 0 not in lines


def test_missing_top_level_section_has_no_line(tmp_path: Path) -> None:
    [issue] = _issues(tmp_path, PERSONAS)

    assert (issue.line, issue.path, issue.message) == (None, "bots", "missing required key 'bots'")
