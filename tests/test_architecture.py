"""core/ knows nothing of the platforms, only two model edges talk to openai, cli/ to no SDK."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[1] / "core"
FORBIDDEN_IN_CORE = {"slack_bolt", "slack_sdk", "discord", "bots"}
# The moderation client is the one edge where the openai SDK and its HTTP library are allowed
# (chat calls go over aiohttp, core/model_http.py).
MODEL_EDGE = {"openai", "httpx", "httpx2"}
MODEL_CLIENTS = {CORE / "moderation_client.py"}
# The MCP SDK's Streamable HTTP transport takes an httpx2 client: the SDK's documented way to
# send a server's headers. Only the MCP connection builds one; nothing there talks to a model.
MCP_HTTP_CLIENTS = {CORE / "tools" / "mcp_connection.py"}


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module":
            # importlib.import_module("discord") would dodge the import statements.
            roots.update(
                arg.value.split(".")[0]
                for arg in node.args
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str)
            )
    return roots


CORE_FILES = sorted(CORE.rglob("*.py"))
BOTS_FILES = sorted((CORE.parent / "bots").rglob("*.py"))
CLI_FILES = sorted((CORE.parent / "cli").rglob("*.py"))
# What `run` alone needs; the admin commands reach adapters only through bots.platforms.
SDKS = {"slack_bolt", "slack_sdk", "discord", "openai"}


def test_core_has_modules_to_check() -> None:
    assert len(CORE_FILES) > 10


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: str(p.relative_to(CORE.parent)))
def test_core_module_stays_platform_neutral(path: Path) -> None:
    leaked = imported_roots(path) & FORBIDDEN_IN_CORE
    assert not leaked, f"{path} imports {sorted(leaked)}; core must not know the platforms"
    if path not in MODEL_CLIENTS:
        allowed = {"httpx2"} if path in MCP_HTTP_CLIENTS else set()
        edge = imported_roots(path) & MODEL_EDGE - allowed
        assert not edge, f"{path} imports {sorted(edge)}; only the model edges talk to the SDK"


def test_only_core_tools_talks_to_the_mcp_sdk() -> None:
    """As a client; `parley notes-server` is an MCP server of its own, built with the SDK."""
    everything = [*CORE_FILES, *BOTS_FILES, *CLI_FILES]
    users = {p for p in everything if imported_roots(p) & {"mcp", "mcp_types"}}
    clients = users - {CORE.parent / "cli" / "notes_server.py"}
    assert clients and all(p.parent == CORE / "tools" for p in clients), sorted(map(str, users))


def test_only_the_postgres_store_and_its_copy_talk_to_asyncpg() -> None:
    """The rest of Parley sees the store, never the driver (a SQLite install never loads it)."""
    everything = [*CORE_FILES, *BOTS_FILES, *CLI_FILES]
    users = {p for p in everything if "asyncpg" in imported_roots(p)}
    allowed = {CORE / "store" / "postgres"}
    copy = {p for p in users if p.parent == CORE.parent / "cli" and p.stem.startswith("store_copy")}
    assert users and all(p.parent in allowed for p in users - copy), sorted(map(str, users))


def test_the_check_catches_a_forbidden_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import os\nfrom slack_bolt.async_app import AsyncApp\nimport discord.ext\n")
    assert imported_roots(sample) & FORBIDDEN_IN_CORE == {"slack_bolt", "discord"}


def test_only_core_metrics_imports_prometheus() -> None:
    everything = [*CORE_FILES, *BOTS_FILES, *CLI_FILES]
    users = [path.name for path in everything if "prometheus_client" in imported_roots(path)]
    assert users == ["metrics.py"]


def imported_modules(path: Path) -> set[str]:
    """Full dotted names of the modules a file imports, at any depth of the file."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", CLI_FILES, ids=lambda p: str(p.relative_to(CORE.parent)))
def test_cli_never_imports_an_sdk_or_an_adapter(path: Path) -> None:
    # cli.main imports a command's module only once it is chosen (tests/cli/test_start.py);
    # no command module may reach an SDK or an adapter itself.
    modules = imported_modules(path)
    leaked = {m.split(".")[0] for m in modules} & SDKS
    adapters = {m for m in modules if m.startswith(("bots.slack", "bots.discord"))}
    assert not leaked and not adapters, f"{path} imports {sorted(leaked | adapters)}"


@pytest.mark.parametrize("platform", ["slack", "discord"])
def test_adapter_packages_import_nothing_when_named(platform: str) -> None:
    # `import bots.slack.config` must not load slack_bolt through the package's __init__.
    init = CORE.parent / "bots" / platform / "__init__.py"
    assert not imported_modules(init)
