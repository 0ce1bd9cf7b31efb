"""`parley notes-server`: a small MCP server over stdio, to try tools with.

Notes kept in one JSON file: `search_notes` reads (annotated read-only, so it runs without
asking), `add_note` writes (not annotated: Parley asks first), `delete_note` destroys
(annotated destructive: Parley asks first). Start it from bots.yaml, not by hand:

    tools:
      notes:
        command: parley
        args: [notes-server, --file, data/notes.json]
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations

Notes = dict[str, str]  # id -> text


def notes_server(args: argparse.Namespace) -> int:
    build(Path(args.file)).run("stdio")
    return 0


def build(path: Path) -> MCPServer:
    """The server, on the notes file at `path` (created on the first note)."""
    server = MCPServer("parley-notes")

    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    def search_notes(query: str) -> str:
        """Notes whose text contains `query` (any case), with their ids; "" lists them all."""
        found = [
            f"{id_}: {text}" for id_, text in _read(path).items() if query.lower() in text.lower()
        ]
        return "\n".join(found) if found else f"no note contains {query!r}"

    @server.tool()
    def add_note(text: str) -> str:
        """Keeps a new note; returns its id."""
        notes = _read(path)
        id_ = str(max((int(key) for key in notes), default=0) + 1)
        _write(path, {**notes, id_: text})
        return f"kept note {id_}"

    @server.tool(annotations=ToolAnnotations(destructive_hint=True))
    def delete_note(id: str) -> str:
        """Deletes the note with this id."""
        notes = _read(path)
        if id not in notes:
            raise ToolError(f"there is no note {id}")
        del notes[id]
        _write(path, notes)
        return f"deleted note {id}"

    return server


def _read(path: Path) -> Notes:
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        raise ToolError(f"the notes file cannot be read: {error}") from error
    return (
        {str(key): str(value) for key, value in loaded.items()} if isinstance(loaded, dict) else {}
    )


def _write(path: Path, notes: Notes) -> None:
    # Written aside and renamed: a kill mid-write never leaves half a file.
    path.parent.mkdir(parents=True, exist_ok=True)
    spare = path.with_suffix(path.suffix + ".tmp")
    spare.write_text(json.dumps(notes, indent=2, ensure_ascii=False), encoding="utf-8")
    os.replace(spare, path)
