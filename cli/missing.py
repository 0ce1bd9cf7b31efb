"""What `parley` says when there is no bots.yaml: where it looked, and how to start one."""

from __future__ import annotations

import shlex
from pathlib import Path

from core.errors import ConfigFileMissing

# The example bots.yaml sits beside the packages in a source checkout (and an editable
# install); a wheel installed from an index has none.
_EXAMPLE = Path(__file__).resolve().parents[1] / "bots.yaml"


def example_config() -> Path | None:
    return _EXAMPLE if _EXAMPLE.is_file() else None


def explain_missing(missing: ConfigFileMissing, source: str) -> str:
    """A few lines for stderr: the absolute path tried and the command that starts a config."""
    lines = [
        f"parley: no config file at {missing.looked_at} ({source})",
        "  Give another with --config PATH or $PARLEY_CONFIG, or start from the example:",
    ]
    example = example_config()
    if example is not None:
        lines.append(f"    cp {shlex.quote(str(example))} {shlex.quote(str(missing.looked_at))}")
    else:
        lines.append("    the README's bots.yaml section has one to copy")
    lines.append("  then `parley check` says what it sets up and which secrets to set.")
    return "\n".join(lines)
