"""Which tools a turn may call: the persona's list, replaced by a workspace's or channel's."""

from __future__ import annotations

from pathlib import Path

from bots.config_models import load_config
from core.personas import resolve_persona
from core.tools.exchange import restart_note

CONFIG = """\
tools:
  docs: {command: python}
  github: {url: "https://mcp.example.com/mcp"}
personas:
  helper: {system_prompt: hi, model: m, tools: [docs.search]}
  coder: {system_prompt: hi, model: m, tools: [github.*]}
bots:
  - name: console
    platform: console
    persona: helper
    workspaces:
      W1: {tools: [docs.*, github.search]}
    channels:
      quiet: {tools: []}
      code: {persona: coder}
"""


def test_overrides_replace_the_list_and_a_new_persona_brings_its_own(tmp_path: Path) -> None:
    path = tmp_path / "bots.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    config = load_config(path, {})
    bot = config.bot("console")

    def tools(workspace: str, channel: str, chosen: str | None = None) -> tuple[str, ...]:
        return resolve_persona(config, bot, workspace, channel, chosen).tools

    assert tools("W0", "general") == ("docs.search",)
    assert tools("W1", "general") == ("docs.*", "github.search")
    assert tools("W1", "quiet") == ()
    assert tools("W0", "code") == ("github.*",)
    # A persona chosen in chat keeps the place's narrowing.
    assert tools("W0", "quiet", chosen="coder") == ()
    assert tools("W0", "general", chosen="coder") == ("github.*",)


def test_a_restart_note_names_what_ran_and_what_waited() -> None:
    tools = (
        '[{"text": "", "calls": ['
        '{"id": "a", "name": "docs__delete_page", "arguments": "{}", "state": "running"},'
        '{"id": "b", "name": "docs__search", "arguments": "{}", "state": "ok"},'
        '{"id": "c", "name": "github__merge", "arguments": "{}", "state": "waiting"}]}]'
    )
    note = restart_note(tools)
    assert "`docs.delete_page` had started and was not run again" in note
    assert "approval for `github.merge` was cancelled" in note
    assert "docs.search" not in note
    assert restart_note(tools.replace("running", "ok").replace("waiting", "ok")) == ""
