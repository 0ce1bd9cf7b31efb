"""Tool servers in bots.yaml: transports, approvals, and where a child runs."""

from __future__ import annotations

from pathlib import Path

from bots.config_models import load_config

CONFIG = """\
tools:
  notes: {command: parley, args: [notes-server, --file, data/notes.json]}
  pinned: {command: ./server, cwd: /srv/tools}
  web: {url: "https://mcp.example.com/mcp", headers: {Authorization: "Bearer ${TOKEN}"}}
  strict: {command: x, approval: deny, approvals: {read: auto}}
personas:
  helper: {system_prompt: hi, model: m, tools: [notes.*]}
bots:
  - {name: console, platform: console, persona: helper}
"""


def test_servers_load_with_their_transport_and_a_child_runs_beside_the_config(
    tmp_path: Path,
) -> None:
    path = tmp_path / "bots.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    tools = load_config(path, {"TOKEN": "t0k3n"}).tools
    assert tools["notes"].cwd == tmp_path
    assert tools["pinned"].cwd == Path("/srv/tools")
    assert tools["web"].cwd is None and tools["web"].headers["Authorization"] == "Bearer t0k3n"


def test_approval_comes_from_the_tool_then_the_server_then_the_read_only_hint(
    tmp_path: Path,
) -> None:
    path = tmp_path / "bots.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    tools = load_config(path, {"TOKEN": "x"}).tools
    assert tools["strict"].approval_for("read", read_only=False) == "auto"
    assert tools["strict"].approval_for("write", read_only=True) == "deny"
    assert tools["notes"].approval_for("search_notes", read_only=True) == "auto"
    assert tools["notes"].approval_for("add_note", read_only=False) == "ask"
