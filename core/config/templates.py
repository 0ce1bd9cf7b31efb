"""System-prompt templates: which placeholders exist, how they are checked and filled in."""

from __future__ import annotations

import string
from collections.abc import Mapping

from core.config.paths import did_you_mean

PLACEHOLDERS: frozenset[str] = frozenset(
    {"bot_name", "workspace_name", "channel_name", "viewing_channel", "user_name", "date", "time"}
)
_KNOWN = ", ".join(f"{{{name}}}" for name in sorted(PLACEHOLDERS))
_LITERAL_HINT = "write {{ or }} for a literal brace"
_BRACE_PROBLEMS = {
    "Single '}' encountered in format string": "a '}' with no matching '{'",
    "Single '{' encountered in format string": "a '{' that is never closed",
    "expected '}' before end of string": "a '{' that is never closed",
    "unexpected '{' in field name": "a '{' inside a placeholder",
}


def template_problems(template: str) -> list[str]:
    """Every problem with `template`, in words; empty when it is fine to render."""
    try:
        fields = [
            (name, spec, conv) for _, name, spec, conv in _parse(template) if name is not None
        ]
    except ValueError as exc:
        problem = _BRACE_PROBLEMS.get(str(exc), str(exc))
        return [f"malformed braces: {problem} ({_LITERAL_HINT})"]
    return [problem for field in fields if (problem := _field_problem(*field))]


def _field_problem(name: str, spec: str | None, conversion: str | None) -> str:
    if not name:
        return f"empty placeholder {{}}; known: {_KNOWN} ({_LITERAL_HINT})"
    if name not in PLACEHOLDERS:
        hint = did_you_mean(name, PLACEHOLDERS, quote="{}")
        literal = "" if name.isidentifier() else f" ({_LITERAL_HINT})"
        return f"unknown placeholder {{{name}}}{hint}; known: {_KNOWN}{literal}"
    if spec or conversion:
        return f"placeholder {{{name}}} takes no format or conversion; write just {{{name}}}"
    return ""


def render_template(template: str, values: Mapping[str, str]) -> str:
    """Fill in placeholders; a value that is not given renders as an empty string."""
    try:
        parts = [
            literal + (values.get(name, "") if name is not None else "")
            for literal, name, _, _ in _parse(template)
        ]
    except ValueError:
        # Templates are checked at load; an unchecked one is shown as written, not lost.
        return template
    return "".join(parts)


def _parse(template: str) -> list[tuple[str, str | None, str | None, str | None]]:
    return list(string.Formatter().parse(template))
