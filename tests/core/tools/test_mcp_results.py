"""MCP tool results as the model reads them: text joined, other items described, structured
content as compact JSON when there is no text, isError as failed."""

from __future__ import annotations

import base64

from mcp_types import (
    AudioContent,
    BlobResourceContents,
    CallToolResult,
    EmbeddedResource,
    ImageContent,
    ResourceLink,
    TextContent,
    TextResourceContents,
)

from core.tools.calls import ToolResult
from core.tools.mcp_results import tool_result


def b64(size: int) -> str:
    return base64.b64encode(b"x" * size).decode()


def test_text_items_are_joined_with_newlines() -> None:
    result = CallToolResult(content=[TextContent(text="one"), TextContent(text="two")])
    assert tool_result(result) == ToolResult("one\ntwo")


def test_images_and_audio_are_described_by_type_and_size() -> None:
    result = CallToolResult(
        content=[
            ImageContent(data=b64(12 * 1024), mime_type="image/png"),
            AudioContent(data=b64(100), mime_type="audio/wav"),
        ]
    )
    assert tool_result(result).text == "[image/png, 12 KB]\n[audio/wav, 100 B]"


def test_resources_give_their_uri_and_embedded_text() -> None:
    result = CallToolResult(
        content=[
            EmbeddedResource(resource=TextResourceContents(uri="file:///a.md", text="# A")),
            EmbeddedResource(
                resource=BlobResourceContents(uri="file:///b.pdf", blob=b64(2048), mime_type=None)
            ),
            ResourceLink(uri="https://example.com/c", name="c"),
        ]
    )
    assert tool_result(result).text == (
        "[resource file:///a.md]\n# A\n"
        "[resource file:///b.pdf: binary, 2 KB]\n"
        "[resource https://example.com/c]"
    )


def test_structured_content_is_compact_json_only_without_text() -> None:
    alone = CallToolResult(content=[], structured_content={"pages": [1, 2], "ok": True})
    assert tool_result(alone).text == '{"pages":[1,2],"ok":true}'
    beside_text = CallToolResult(content=[TextContent(text="2 pages")], structured_content={"n": 2})
    assert tool_result(beside_text).text == "2 pages"


def test_is_error_is_failed_with_the_servers_text_or_a_note() -> None:
    said = CallToolResult(content=[TextContent(text="no such page")], is_error=True)
    assert tool_result(said) == ToolResult("no such page", failed=True)
    silent = tool_result(CallToolResult(content=[], is_error=True))
    assert silent.failed and "without saying what" in silent.text
