"""Fills in what bots.yaml may leave out but validation needs: names and implicit keys."""

from __future__ import annotations

from core.config.paths import LineMap, format_path
from core.errors import ConfigIssue

# Written as a reference so the implicit key flows through the same secret handling as any other.
OPENAI_KEY_REFERENCE = "${OPENAI_API_KEY}"


def with_defaults(
    data: dict[str, object], lines: LineMap, file: str
) -> tuple[dict[str, object], list[ConfigIssue]]:
    """A copy of `data` with implicit entries added, and any keys that clash with them."""
    result = dict(data)
    issues: list[ConfigIssue] = []
    result.setdefault("providers", {"openai": {}})
    result.setdefault("storage", {})
    for section in ("providers", "personas", "tools"):
        named = _named(result.get(section), section, lines, file, issues)
        if named is not None:
            result[section] = named
    if isinstance(providers := result.get("providers"), dict):
        result["providers"] = {name: _with_key(entry) for name, entry in providers.items()}
    return result, issues


def _named(
    section: object, kind: str, lines: LineMap, file: str, issues: list[ConfigIssue]
) -> dict[str, object] | None:
    """Each entry of a name -> entry section, carrying its own name."""
    if not isinstance(section, dict):
        return None
    named: dict[str, object] = {}
    for name, entry in section.items():
        if isinstance(entry, dict) and "name" in entry:
            loc = (kind, name, "name")
            message = f"unknown key 'name' (an entry of {kind} is named by its key, '{name}')"
            issues.append(ConfigIssue(file, lines.line_of(loc), format_path(loc), message))
        named[name] = {**entry, "name": name} if isinstance(entry, dict) else entry
    return named


def _with_key(provider: object) -> object:
    # Without a base_url this is OpenAI itself, which always needs a key.
    if (
        isinstance(provider, dict)
        and provider.get("type", "openai") == "openai"
        and "base_url" not in provider
        and "api_key" not in provider
    ):
        return {**provider, "api_key": OPENAI_KEY_REFERENCE}
    return provider
