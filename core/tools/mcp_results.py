"""An MCP tool result as the text Parley gives the model: text items joined, other items
described briefly, structured content as compact JSON when there is no text."""

from __future__ import annotations

import json

from mcp_types import (
    AudioContent,
    BlobResourceContents,
    CallToolResult,
    ContentBlock,
    EmbeddedResource,
    ImageContent,
    ResourceLink,
    TextContent,
)

from core.tools.calls import ToolResult


def tool_result(result: CallToolResult) -> ToolResult:
    """The model's view of a result; `failed` when the server flagged it isError."""
    parts = [_describe(item) for item in result.content]
    has_text = any(isinstance(item, TextContent) for item in result.content)
    if result.structured_content is not None and not has_text:
        parts.append(json.dumps(result.structured_content, separators=(",", ":")))
    text = "\n".join(part for part in parts if part)
    if result.is_error and not text:
        text = "the tool reported an error without saying what"
    return ToolResult(text, failed=result.is_error)


def _describe(item: ContentBlock) -> str:
    if isinstance(item, TextContent):
        return item.text
    if isinstance(item, ImageContent | AudioContent):
        return f"[{item.mime_type}, {_size(item.data)}]"
    if isinstance(item, ResourceLink):
        return f"[resource {item.uri}]"
    if isinstance(item, EmbeddedResource):
        resource = item.resource
        if isinstance(resource, BlobResourceContents):
            kind = resource.mime_type or "binary"
            return f"[resource {resource.uri}: {kind}, {_size(resource.blob)}]"
        return f"[resource {resource.uri}]\n{resource.text}"
    return f"[{type(item).__name__}]"


def _size(base64_data: str) -> str:
    """The decoded size of base64 data, without decoding it."""
    size = len(base64_data) * 3 // 4 - base64_data[-2:].count("=")
    return f"{size} B" if size < 1024 else f"{round(size / 1024)} KB"
