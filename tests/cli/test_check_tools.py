"""`parley check --probe` with tools, and `parley notes-server` as the server it probes."""

from __future__ import annotations

import io
from pathlib import Path

from bots.config_models import load_config
from cli.check import print_check
from cli.check_tools import probe_tools
from core.tools.calls import ToolSpec
from core.tools.servers import ToolServers

CONFIG = """\
tools:
  notes:
    command: parley
    args: [notes-server, --file, {notes}]
  gone:
    url: http://127.0.0.1:{port}/mcp
    timeout: 5
personas:
  helper:
    system_prompt: hi
    model: m
    tools: [notes.*, notes.nothing, gone.*]
bots:
  - name: console
    platform: console
    persona: helper
"""


def config_file(tmp_path: Path, closed_port: int) -> Path:
    path = tmp_path / "bots.yaml"
    text = CONFIG.format(notes=tmp_path / "notes.json", port=closed_port)
    path.write_text(text, encoding="utf-8")
    return path


async def test_probe_lists_each_servers_tools_with_their_approval_and_names_the_unreachable(
    tmp_path: Path, unused_tcp_port: int
) -> None:
    config = load_config(config_file(tmp_path, unused_tcp_port), {})
    out = io.StringIO()
    print_check(config, out, None, await probe_tools(config))
    text = out.getvalue()
    assert "search_notes             auto (read-only)" in text
    assert "add_note                 ask" in text
    assert "delete_note              ask" in text
    assert "→ NOT REACHABLE" in text
    assert "persona helper: notes.add_note, notes.delete_note, notes.search_notes" in text
    assert "'notes.nothing' matches no tool of server 'notes'" in text


async def test_the_notes_server_keeps_searches_and_deletes_notes(
    tmp_path: Path, unused_tcp_port: int
) -> None:
    config = load_config(config_file(tmp_path, unused_tcp_port), {})
    servers = ToolServers({"notes": config.tools["notes"]})
    await servers.start()
    try:

        def spec(tool: str) -> ToolSpec:
            return next(s for s in servers.tools() if s.tool == tool)

        kept = await servers.call(spec("add_note"), {"text": "deploy on Friday"})
        assert kept.text == "kept note 1"
        found = await servers.call(spec("search_notes"), {"query": "FRIDAY"})
        assert found.text == "1: deploy on Friday"
        missing = await servers.call(spec("delete_note"), {"id": "7"})
        assert missing.failed and "no note 7" in missing.text
        assert (await servers.call(spec("delete_note"), {"id": "1"})).text == "deleted note 1"
        assert "no note contains" in (await servers.call(spec("search_notes"), {"query": ""})).text
    finally:
        await servers.close()
