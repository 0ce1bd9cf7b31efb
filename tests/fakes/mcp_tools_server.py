"""A real MCP server (official SDK) with the tools Parley's tool tests call, over stdio or HTTP.

Run as `python -m tests.fakes.mcp_tools_server stdio` (a child spoken to over its pipes) or
`python -m tests.fakes.mcp_tools_server http --port 0` (Streamable HTTP on 127.0.0.1; prints
`listening on http://127.0.0.1:PORT/mcp` once it accepts connections, so a test waits on
that line; with env MCP_HTTP_TOKEN it answers 401 unless sent that bearer token; with env
MCP_HTTP_LEGACY it speaks only the 2025 protocol, with its initialize handshake and sessions).
Env MCP_CALL_LOG names a file that gets one JSON line per call, written before the tool
works; MCP_STARTED_FLAG names a file `slow` creates (holding this pid) as it starts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sys

import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations
from starlette.types import ASGIApp, Message, Receive, Scope, Send

BIG_SIZE = 100_000

server = MCPServer("parley-test-tools")


def _log_call(tool: str, arguments: dict[str, object]) -> None:
    """Appends the call to MCP_CALL_LOG, on disk before the tool works: a kill after this
    line proves the call started."""
    path = os.environ.get("MCP_CALL_LOG")
    if not path:
        return
    with open(path, "a", encoding="utf-8") as log:
        log.write(json.dumps({"tool": tool, "arguments": arguments}) + "\n")
        log.flush()
        os.fsync(log.fileno())


@server.tool(annotations=ToolAnnotations(read_only_hint=True))
def search(query: str) -> str:
    """Searches the pages for a query."""
    _log_call("search", {"query": query})
    print(f"searching for {query!r}", file=sys.stderr, flush=True)  # for the stderr log test
    return f"3 pages match {query!r}: intro, setup, faq"


@server.tool(annotations=ToolAnnotations(destructive_hint=True))
def delete_page(page: str) -> str:
    """Deletes a page."""
    _log_call("delete_page", {"page": page})
    return f"deleted {page}"


@server.tool()
async def slow(seconds: float) -> str:
    """Waits `seconds`, then says done."""
    _log_call("slow", {"seconds": seconds})
    _mark_started()
    try:
        await asyncio.sleep(seconds)
    except asyncio.CancelledError:
        # The client's notifications/cancelled arrived: said on stderr for the tests to see.
        print("slow was cancelled", file=sys.stderr, flush=True)
        raise
    return "done"


def _mark_started() -> None:
    flag = os.environ.get("MCP_STARTED_FLAG")
    if flag:
        with open(flag, "w", encoding="utf-8") as started:
            started.write(str(os.getpid()))


@server.tool()
def broken() -> str:
    """Always fails, with a message the server passes on (a ToolError's text is shown)."""
    _log_call("broken", {})
    raise ToolError("the index is corrupt")


@server.tool()
def big() -> str:
    """Returns 100,000 characters."""
    _log_call("big", {})
    return ("0123456789" * (BIG_SIZE // 10))[:BIG_SIZE]


@server.tool()
def env_names() -> str:
    """The sorted names of this process's environment variables, one a line."""
    _log_call("env_names", {})
    return "\n".join(sorted(os.environ))


class _AnnouncedServer(uvicorn.Server):
    """Prints the address once uvicorn accepts connections: the line a test waits for."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and sockets:
            port = sockets[0].getsockname()[1]
            print(f"listening on http://127.0.0.1:{port}/mcp", flush=True)


def _bearer_only(app: ASGIApp, token: str) -> ASGIApp:
    """Answers 401 to a request without `Authorization: Bearer <token>`, as a hosted MCP
    server does: proves a config's headers are sent, and is an HTTP error to meet."""
    expected = f"Bearer {token}".encode()

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (b"authorization", expected) not in scope["headers"]:
            await send({"type": "http.response.start", "status": 401, "headers": []})
            await send({"type": "http.response.body", "body": b"unauthorized"})
            return
        await app(scope, receive, send)

    return guarded


def _handshake_only(app: ASGIApp) -> ASGIApp:
    """Refuses `server/discover`, as a server of the 2025 protocol does: the client falls back
    to the initialize handshake and a session id, which a restart of this server forgets."""

    async def legacy(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await app(scope, receive, send)
            return
        messages = [await receive()]
        while messages[-1].get("more_body"):
            messages.append(await receive())
        body = b"".join(message.get("body", b"") for message in messages)
        if b'"server/discover"' in body:
            error = {"code": -32601, "message": "Method not found"}
            answer = {"jsonrpc": "2.0", "id": json.loads(body).get("id"), "error": error}
            headers = [(b"content-type", b"application/json")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": json.dumps(answer).encode()})
            return
        pending = iter(messages)

        async def replayed() -> Message:
            return next(pending, None) or await receive()

        await app(scope, replayed, send)

    return legacy


async def _serve_http(port: int) -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted sockets inherit this; without it each answer's body waits ~40 ms behind its
    # headers (Nagle against the client's delayed ACK), which would swamp any measurement.
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    listener.bind(("127.0.0.1", port))
    app: ASGIApp = server.streamable_http_app(host="127.0.0.1")
    if os.environ.get("MCP_HTTP_LEGACY"):
        app = _handshake_only(app)
    token = os.environ.get("MCP_HTTP_TOKEN")
    if token:
        app = _bearer_only(app, token)
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    await _AnnouncedServer(config).serve(sockets=[listener])


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.fakes.mcp_tools_server")
    parser.add_argument("transport", choices=("stdio", "http"))
    parser.add_argument("--port", type=int, default=0)
    options = parser.parse_args(argv)
    if options.transport == "stdio":
        server.run("stdio")
    else:
        asyncio.run(_serve_http(options.port))


if __name__ == "__main__":
    main(sys.argv[1:])
